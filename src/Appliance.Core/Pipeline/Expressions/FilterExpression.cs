using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Appliance.Core.Pipeline.Expressions;

/// <summary>
/// A compiled filter predicate (syntax in docs/pipeline.md). Parse once at start-up with <see cref="Parse"/>;
/// evaluation never re-parses and touches the record's JSON only through the shared, lazily parsed value.
/// </summary>
public sealed class FilterExpression
{
    private readonly Node _root;

    private FilterExpression(string text, Node root)
    {
        Text = text;
        _root = root;
    }

    /// <summary>The expression text.</summary>
    public string Text { get; }

    /// <summary>Parses and compiles an expression.</summary>
    /// <param name="text">The expression.</param>
    /// <returns>The compiled expression.</returns>
    /// <exception cref="ExpressionParseException">The text is not a valid expression; the message points at the offending text.</exception>
    public static FilterExpression Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new Parser(text);
        return new FilterExpression(text, parser.ParseAll());
    }

    /// <summary>Evaluates the predicate for a record: true only when the expression yields the boolean true.</summary>
    /// <param name="context">The record.</param>
    public bool Evaluate(RecordContext context) => _root.Eval(context).IsTrue;

    /// <inheritdoc />
    public override string ToString() => Text;

    private abstract class Node
    {
        public abstract ExprValue Eval(RecordContext c);
    }

    private sealed class Literal(ExprValue value) : Node
    {
        public override ExprValue Eval(RecordContext c) => value;
    }

    private sealed class PathNode(FieldPath path) : Node
    {
        public override ExprValue Eval(RecordContext c)
        {
            switch (path.Root)
            {
                case PathRoot.Value:
                    if (path.Segments.Length == 0)
                    {
                        return c.HasValue ? ExprValue.Complex : ExprValue.Null;
                    }

                    if (!c.HasValue)
                    {
                        return ExprValue.Missing;
                    }

                    return path.TryGet(c.Value, out var node) ? ExprValue.FromNode(node) : ExprValue.Missing;
                case PathRoot.Key:
                    return c.Key is null ? ExprValue.Null : ExprValue.Of(c.KeyString);
                case PathRoot.Header:
                    var name = path.Segments[0];
                    return c.HasHeader(name) ? ExprValue.Of(c.GetHeader(name)) : ExprValue.Missing;
                case PathRoot.Timestamp:
                    return ExprValue.Of(c.TimestampMs);
                case PathRoot.Topic:
                    return ExprValue.Of(c.Source.Topic);
                case PathRoot.Partition:
                    return ExprValue.Of(c.Source.Partition);
                default:
                    return ExprValue.Of(c.Source.Offset);
            }
        }

        public bool Exists(RecordContext c) => path.Root switch
        {
            PathRoot.Value when path.Segments.Length == 0 => c.HasValue,
            PathRoot.Value => c.HasValue && path.TryGet(c.Value, out _),
            PathRoot.Key => c.Key is not null,
            PathRoot.Header => c.HasHeader(path.Segments[0]),
            _ => true,
        };
    }

    private sealed class Exists(PathNode path) : Node
    {
        public override ExprValue Eval(RecordContext c) => ExprValue.Of(path.Exists(c));
    }

    private sealed class Not(Node inner) : Node
    {
        public override ExprValue Eval(RecordContext c) => ExprValue.Of(!inner.Eval(c).IsTrue);
    }

    private sealed class And(Node left, Node right) : Node
    {
        public override ExprValue Eval(RecordContext c) => ExprValue.Of(left.Eval(c).IsTrue && right.Eval(c).IsTrue);
    }

    private sealed class Or(Node left, Node right) : Node
    {
        public override ExprValue Eval(RecordContext c) => ExprValue.Of(left.Eval(c).IsTrue || right.Eval(c).IsTrue);
    }

    private sealed class Compare(Node left, string op, Node right) : Node
    {
        public override ExprValue Eval(RecordContext c)
        {
            var a = left.Eval(c);
            var b = right.Eval(c);
            if (op == "==")
            {
                return ExprValue.Of(ExprValue.AreEqual(a, b));
            }

            if (op == "!=")
            {
                return ExprValue.Of(!ExprValue.AreEqual(a, b));
            }

            var cmp = ExprValue.Compare(a, b);
            if (cmp is not { } r)
            {
                return ExprValue.False;
            }

            return ExprValue.Of(op switch
            {
                "<" => r < 0,
                "<=" => r <= 0,
                ">" => r > 0,
                _ => r >= 0,
            });
        }
    }

    private sealed class Match(Node left, Regex regex) : Node
    {
        public override ExprValue Eval(RecordContext c)
        {
            var a = left.Eval(c);
            return ExprValue.Of(a.Kind == ExprKind.String && regex.IsMatch(a.Text!));
        }
    }

    private sealed class In(Node left, ExprValue[] set) : Node
    {
        public override ExprValue Eval(RecordContext c)
        {
            var a = left.Eval(c);
            foreach (var v in set)
            {
                if (ExprValue.AreEqual(a, v))
                {
                    return ExprValue.True;
                }
            }

            return ExprValue.False;
        }
    }

    private enum Tok
    {
        End,
        Ident,
        String,
        Number,
        Op,
        LParen,
        RParen,
        LBracket,
        RBracket,
        Comma,
    }

    private readonly record struct Token(Tok Kind, string Text, int Pos, ExprValue Value = default);

    private sealed class Parser
    {
        private readonly string _text;
        private readonly List<Token> _tokens = [];
        private int _i;

        public Parser(string text)
        {
            _text = text;
            Lex();
        }

        private Token Current => _tokens[_i];

        public Node ParseAll()
        {
            if (Current.Kind == Tok.End)
            {
                throw Error(Current, "the expression is empty");
            }

            var node = ParseOr();
            if (Current.Kind != Tok.End)
            {
                throw Error(Current, $"unexpected '{Current.Text}' (expected 'and', 'or' or the end)");
            }

            return node;
        }

        private Node ParseOr()
        {
            var left = ParseAnd();
            while (IsWord("or"))
            {
                _i++;
                left = new Or(left, ParseAnd());
            }

            return left;
        }

        private Node ParseAnd()
        {
            var left = ParseNot();
            while (IsWord("and"))
            {
                _i++;
                left = new And(left, ParseNot());
            }

            return left;
        }

        private Node ParseNot()
        {
            if (IsWord("not"))
            {
                _i++;
                return new Not(ParseNot());
            }

            return ParseComparison();
        }

        private Node ParseComparison()
        {
            var left = ParsePrimary();
            var t = Current;
            if (t.Kind == Tok.Op)
            {
                _i++;
                if (t.Text == "=~")
                {
                    var pattern = Current;
                    if (pattern.Kind != Tok.String)
                    {
                        throw Error(pattern, "expected a string with a regular expression after '=~'");
                    }

                    _i++;
                    Regex regex;
                    try
                    {
                        regex = new Regex(pattern.Value.Text!, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
                    }
                    catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
                    {
                        throw Error(pattern, "invalid regular expression: " + ex.Message);
                    }

                    return new Match(left, regex);
                }

                return new Compare(left, t.Text, ParsePrimary());
            }

            if (IsWord("in"))
            {
                _i++;
                Expect(Tok.LBracket, "'[' after 'in'");
                var values = new List<ExprValue>();
                while (true)
                {
                    var lit = Current;
                    if (!TryLiteral(lit, out var v))
                    {
                        throw Error(lit, $"expected a literal in the 'in' list, found '{Describe(lit)}'");
                    }

                    _i++;
                    values.Add(v);
                    if (Current.Kind == Tok.Comma)
                    {
                        _i++;
                        continue;
                    }

                    Expect(Tok.RBracket, "',' or ']' in the 'in' list");
                    break;
                }

                return new In(left, [.. values]);
            }

            return left;
        }

        private Node ParsePrimary()
        {
            var t = Current;
            switch (t.Kind)
            {
                case Tok.LParen:
                    _i++;
                    var inner = ParseOr();
                    Expect(Tok.RParen, "')'");
                    return inner;
                case Tok.String:
                case Tok.Number:
                    _i++;
                    return new Literal(t.Value);
                case Tok.Ident:
                    if (TryLiteral(t, out var lit))
                    {
                        _i++;
                        return new Literal(lit);
                    }

                    if (t.Text == "exists")
                    {
                        _i++;
                        Expect(Tok.LParen, "'(' after 'exists'");
                        var p = Current;
                        if (p.Kind != Tok.Ident)
                        {
                            throw Error(p, $"expected a path inside exists(...), found '{Describe(p)}'");
                        }

                        _i++;
                        var path = ToPath(p);
                        Expect(Tok.RParen, "')'");
                        return new Exists(path);
                    }

                    if (t.Text is "and" or "or" or "not" or "in")
                    {
                        throw Error(t, $"unexpected keyword '{t.Text}' (expected a value, a path or '(')");
                    }

                    _i++;
                    return ToPath(t);
                default:
                    throw Error(t, $"unexpected '{Describe(t)}' (expected a value, a path or '(')");
            }
        }

        private PathNode ToPath(Token t)
        {
            if (!FieldPath.TryParse(t.Text, out var path, out var error))
            {
                throw Error(t, error);
            }

            return new PathNode(path);
        }

        private static bool TryLiteral(Token t, out ExprValue value)
        {
            value = default;
            if (t.Kind is Tok.String or Tok.Number)
            {
                value = t.Value;
                return true;
            }

            if (t.Kind != Tok.Ident)
            {
                return false;
            }

            switch (t.Text)
            {
                case "true":
                    value = ExprValue.True;
                    return true;
                case "false":
                    value = ExprValue.False;
                    return true;
                case "null":
                    value = ExprValue.Null;
                    return true;
                default:
                    return false;
            }
        }

        private void Expect(Tok kind, string what)
        {
            if (Current.Kind != kind)
            {
                throw Error(Current, $"expected {what}, found '{Describe(Current)}'");
            }

            _i++;
        }

        private bool IsWord(string word) => Current.Kind == Tok.Ident && Current.Text == word;

        private static string Describe(Token t) => t.Kind == Tok.End ? "end of expression" : t.Text;

        private ExpressionParseException Error(Token t, string reason) => new(_text, t.Pos, reason);

        private void Lex()
        {
            var s = _text;
            var i = 0;
            while (i < s.Length)
            {
                var c = s[i];
                if (char.IsWhiteSpace(c))
                {
                    i++;
                    continue;
                }

                var start = i;
                switch (c)
                {
                    case '(':
                        _tokens.Add(new Token(Tok.LParen, "(", i++));
                        continue;
                    case ')':
                        _tokens.Add(new Token(Tok.RParen, ")", i++));
                        continue;
                    case '[':
                        _tokens.Add(new Token(Tok.LBracket, "[", i++));
                        continue;
                    case ']':
                        _tokens.Add(new Token(Tok.RBracket, "]", i++));
                        continue;
                    case ',':
                        _tokens.Add(new Token(Tok.Comma, ",", i++));
                        continue;
                    case '"' or '\'':
                        _tokens.Add(LexString(ref i));
                        continue;
                    case '=' or '!' or '<' or '>':
                        var two = i + 1 < s.Length ? s.Substring(i, 2) : null;
                        if (two is "==" or "!=" or "<=" or ">=" or "=~")
                        {
                            _tokens.Add(new Token(Tok.Op, two, i));
                            i += 2;
                            continue;
                        }

                        if (c is '<' or '>')
                        {
                            _tokens.Add(new Token(Tok.Op, c.ToString(), i++));
                            continue;
                        }

                        throw new ExpressionParseException(s, i, c == '=' ? "unexpected '=' (use '==' to compare)" : "unexpected '!' (use 'not' or '!=')");
                }

                if (char.IsAsciiDigit(c) || (c == '-' && i + 1 < s.Length && (char.IsAsciiDigit(s[i + 1]) || s[i + 1] == '.')) || (c == '.' && i + 1 < s.Length && char.IsAsciiDigit(s[i + 1])))
                {
                    i++;
                    while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] is '.' or '+' or '-') && !(s[i] is '+' or '-' && s[i - 1] is not ('e' or 'E')))
                    {
                        i++;
                    }

                    var text = s[start..i];
                    if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || !double.IsFinite(d))
                    {
                        throw new ExpressionParseException(s, start, $"invalid number '{text}'");
                    }

                    _tokens.Add(new Token(Tok.Number, text, start, ExprValue.Of(d)));
                    continue;
                }

                if (FieldPath.IsIdentifierStart(c))
                {
                    while (i < s.Length && (FieldPath.IsIdentifierPart(s[i]) || s[i] == '.'))
                    {
                        i++;
                    }

                    _tokens.Add(new Token(Tok.Ident, s[start..i], start));
                    continue;
                }

                throw new ExpressionParseException(s, i, $"unexpected character '{c}'");
            }

            _tokens.Add(new Token(Tok.End, string.Empty, s.Length));
        }

        private Token LexString(ref int i)
        {
            var s = _text;
            var quote = s[i];
            var start = i++;
            var sb = new StringBuilder();
            while (i < s.Length)
            {
                var c = s[i++];
                if (c == quote)
                {
                    return new Token(Tok.String, s[start..i], start, ExprValue.Of(sb.ToString()));
                }

                if (c != '\\')
                {
                    sb.Append(c);
                    continue;
                }

                if (i >= s.Length)
                {
                    break;
                }

                var e = s[i++];
                switch (e)
                {
                    case '\\' or '"' or '\'':
                        sb.Append(e);
                        break;
                    case 'n':
                        sb.Append('\n');
                        break;
                    case 't':
                        sb.Append('\t');
                        break;
                    default:
                        // Unknown escapes are kept as written, so regular expressions like "\d+" need no doubling.
                        sb.Append('\\').Append(e);
                        break;
                }
            }

            throw new ExpressionParseException(s, start, "unterminated string");
        }
    }
}
