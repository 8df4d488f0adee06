namespace Appliance.Core.Pipeline.Expressions;

/// <summary>A filter expression has a syntax error; <see cref="Exception.Message"/> names the position and shows a caret.</summary>
public sealed class ExpressionParseException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="expression">The whole expression text.</param>
    /// <param name="position">The 0-based character index of the offending text.</param>
    /// <param name="reason">What is wrong there.</param>
    public ExpressionParseException(string expression, int position, string reason)
        : base(Format(expression, position, reason))
    {
        Expression = expression;
        Position = position;
        Reason = reason;
    }

    /// <summary>The expression text.</summary>
    public string Expression { get; }

    /// <summary>The 0-based character index of the offending text (the message shows it 1-based, as "column").</summary>
    public int Position { get; }

    /// <summary>What is wrong, without the position.</summary>
    public string Reason { get; }

    private static string Format(string expression, int position, string reason) =>
        $"{reason} at column {position + 1}\n    {expression}\n    {new string(' ', position)}^";
}
