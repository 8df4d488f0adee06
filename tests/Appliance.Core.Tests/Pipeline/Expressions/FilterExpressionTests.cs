using Appliance.Core.Pipeline;
using Appliance.Core.Pipeline.Expressions;
using static Appliance.Core.Tests.Pipeline.PipelineTestKit;

namespace Appliance.Core.Tests.Pipeline.Expressions;

[Trait("Category", "Unit")]
public sealed class FilterExpressionTests
{
    private const string Doc = """{"temp":21.5,"n":3,"name":"pump-7","on":true,"nothing":null,"a":{"b":{"c":"deep"}},"list":[1,2]}""";

    private static bool Eval(string expr, string json = Doc, string? key = "dev-1", params (string, string?)[] headers)
    {
        var p = Build(new StepOptions { Type = "filter", Expression = expr });
        return p.Process(Rec(json, key, offset: 7, partition: 2, ts: 1000, headers: headers)).Count == 1;
    }

    [Theory]
    [InlineData("value.temp > 20", true)]
    [InlineData("value.temp >= 21.5", true)]
    [InlineData("value.temp < 21.5", false)]
    [InlineData("value.temp <= 21.5", true)]
    [InlineData("value.temp == 21.5", true)]
    [InlineData("value.temp != 21.5", false)]
    [InlineData("value.n == 3 and value.on == true", true)]
    [InlineData("value.n == 4 or value.name == \"pump-7\"", true)]
    [InlineData("not value.on", false)]
    [InlineData("not (value.n > 5)", true)]
    [InlineData("value.on", true)]
    [InlineData("value.a.b.c == 'deep'", true)]
    [InlineData("value.nothing == null", true)]
    [InlineData("value.missing == null", false)]
    [InlineData("value.missing != null", true)]
    [InlineData("value.missing > 0", false)]
    [InlineData("exists(value.nothing)", true)]
    [InlineData("exists(value.missing)", false)]
    [InlineData("exists(value.a.b)", true)]
    [InlineData("value.name in [\"pump-1\", \"pump-7\"]", true)]
    [InlineData("value.n in [1, 2]", false)]
    [InlineData("value.name =~ \"^pump-\\d+$\"", true)]
    [InlineData("value.name =~ \"^valve\"", false)]
    [InlineData("value.n =~ \"3\"", false)]
    [InlineData("value.name > \"pump-1\"", true)]
    [InlineData("value.name > 3", false)]
    [InlineData("value.name == 3", false)]
    [InlineData("value.list == 1", false)]
    [InlineData("key == \"dev-1\"", true)]
    [InlineData("key =~ \"^dev-\"", true)]
    [InlineData("header.kind == \"alarm\"", true)]
    [InlineData("header.content-type == \"json\"", true)]
    [InlineData("exists(header.absent)", false)]
    [InlineData("topic == \"t\" and partition == 2 and offset == 7 and timestamp == 1000", true)]
    [InlineData("value.temp > -5 and value.temp < 1e3", true)]
    [InlineData("true", true)]
    [InlineData("false or null", false)]
    [InlineData("value.n > 1 and value.n < 5 or value.temp > 100", true)]
    [InlineData("value.n > 5 and (value.n < 1 or value.temp > 1)", false)]
    public void Evaluate_Expression_ReturnsExpected(string expr, bool expected) =>
        Assert.Equal(expected, Eval(expr, headers: [("kind", "alarm"), ("content-type", "json")]));

    [Fact]
    public void Evaluate_NullKey_ComparesAsNull()
    {
        Assert.True(Eval("key == null", key: null));
        Assert.False(Eval("exists(key)", key: null));
    }

    [Fact]
    public void Evaluate_ActionDrop_DropsMatches()
    {
        var p = Build(new StepOptions { Type = "filter", Expression = "value.n > 2", Action = "drop" });
        Assert.Empty(p.Process(Rec("""{"n":3}""")));
        Assert.Single(p.Process(Rec("""{"n":1}""")));
    }

    [Theory]
    [InlineData("value.temp > > 3", 13, "unexpected '>'")]
    [InlineData("value.temp = 3", 11, "unexpected '=' (use '==' to compare)")]
    [InlineData("(value.a == 1", 13, "expected ')'")]
    [InlineData("value.a == 1 value.b", 13, "unexpected 'value.b'")]
    [InlineData("value.a == \"open", 11, "unterminated string")]
    [InlineData("value.name =~ \"[a-\"", 14, "invalid regular expression")]
    [InlineData("foo.bar == 1", 0, "'foo.bar' is not a valid path")]
    [InlineData("value.n in [1, value.m]", 15, "expected a literal in the 'in' list")]
    [InlineData("exists(3)", 7, "expected a path inside exists(...)")]
    [InlineData("", 0, "the expression is empty")]
    [InlineData("value.a == 1 and", 16, "unexpected 'end of expression'")]
    [InlineData("value.a # 1", 8, "unexpected character '#'")]
    public void Parse_SyntaxError_PointsAtOffendingText(string expr, int position, string reason)
    {
        var ex = Assert.Throws<ExpressionParseException>(() => FilterExpression.Parse(expr));
        Assert.Equal(position, ex.Position);
        Assert.StartsWith(reason, ex.Reason, StringComparison.Ordinal);
        Assert.Equal($"{ex.Reason} at column {position + 1}\n    {expr}\n    {new string(' ', position)}^", ex.Message);
    }
}
