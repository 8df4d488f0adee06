using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Appliance.Core.Pipeline.Expressions;

internal enum ExprKind
{
    Missing,
    Null,
    Bool,
    Number,
    String,
    Complex,
}

/// <summary>A value during evaluation. Missing (path absent) is distinct from JSON null.</summary>
internal readonly struct ExprValue
{
    public static readonly ExprValue Missing = new(ExprKind.Missing, 0, null);
    public static readonly ExprValue Null = new(ExprKind.Null, 0, null);
    public static readonly ExprValue True = new(ExprKind.Bool, 1, null);
    public static readonly ExprValue False = new(ExprKind.Bool, 0, null);
    public static readonly ExprValue Complex = new(ExprKind.Complex, 0, null);

    private ExprValue(ExprKind kind, double number, string? text)
    {
        Kind = kind;
        Number = number;
        Text = text;
    }

    public ExprKind Kind { get; }

    public double Number { get; }

    public string? Text { get; }

    public bool IsTrue => Kind == ExprKind.Bool && Number != 0;

    public static ExprValue Of(bool b) => b ? True : False;

    public static ExprValue Of(double d) => new(ExprKind.Number, d, null);

    public static ExprValue Of(string? s) => s is null ? Null : new(ExprKind.String, 0, s);

    public static ExprValue FromNode(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return Null;
            case JsonValue v:
                switch (v.GetValueKind())
                {
                    case JsonValueKind.Number:
                        return Of(v.GetValue<double>());
                    case JsonValueKind.String:
                        return Of(v.GetValue<string>());
                    case JsonValueKind.True:
                        return True;
                    case JsonValueKind.False:
                        return False;
                    case JsonValueKind.Null:
                        return Null;
                    default:
                        return Complex;
                }

            default:
                return Complex;
        }
    }

    public static bool AreEqual(in ExprValue a, in ExprValue b)
    {
        if (a.Kind != b.Kind)
        {
            return false;
        }

        return a.Kind switch
        {
            ExprKind.Null => true,
            ExprKind.Bool or ExprKind.Number => a.Number == b.Number,
            ExprKind.String => string.Equals(a.Text, b.Text, StringComparison.Ordinal),
            _ => false,
        };
    }

    /// <summary>Orders two numbers or two strings; null when they are not comparable.</summary>
    public static int? Compare(in ExprValue a, in ExprValue b)
    {
        if (a.Kind == ExprKind.Number && b.Kind == ExprKind.Number)
        {
            return a.Number.CompareTo(b.Number);
        }

        if (a.Kind == ExprKind.String && b.Kind == ExprKind.String)
        {
            return string.CompareOrdinal(a.Text, b.Text);
        }

        return null;
    }

    public override string ToString() => Kind switch
    {
        ExprKind.Number => Number.ToString(CultureInfo.InvariantCulture),
        ExprKind.String => "\"" + Text + "\"",
        ExprKind.Bool => IsTrue ? "true" : "false",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}
