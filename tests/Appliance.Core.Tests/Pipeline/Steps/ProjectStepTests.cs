using Appliance.Core.Pipeline;
using static Appliance.Core.Tests.Pipeline.PipelineTestKit;

namespace Appliance.Core.Tests.Pipeline.Steps;

[Trait("Category", "Unit")]
public sealed class ProjectStepTests
{
    [Fact]
    public void Invoke_Keep_KeepsOnlyListedFieldsInListedOrder()
    {
        var p = Build(new StepOptions { Type = "project", Keep = ["value.temp", "value.a.b", "value.absent"] });
        Assert.Equal("""{"temp":1,"a":{"b":2}}""", One(p, """{"x":0,"a":{"b":2,"c":3},"temp":1}"""));
    }

    [Fact]
    public void Invoke_Drop_RemovesListedFields()
    {
        var p = Build(new StepOptions { Type = "project", Drop = ["value.secret", "value.a.c", "value.absent.x"] });
        Assert.Equal("""{"x":0,"a":{"b":2},"temp":1}""", One(p, """{"x":0,"secret":"s","a":{"b":2,"c":3},"temp":1}"""));
    }

    [Fact]
    public void Invoke_KeepAndDrop_AppliesKeepThenDrop()
    {
        var p = Build(new StepOptions { Type = "project", Keep = ["value.a"], Drop = ["value.a.c"] });
        Assert.Equal("""{"a":{"b":2}}""", One(p, """{"x":0,"a":{"b":2,"c":3}}"""));
    }
}

[Trait("Category", "Unit")]
public sealed class RenameStepTests
{
    [Fact]
    public void Invoke_Rename_MovesFieldsAndCreatesParents()
    {
        var p = Build(new StepOptions
        {
            Type = "rename",
            Rename = new() { ["value.t"] = "value.temp", ["value.loc"] = "value.meta.location", ["value.absent"] = "value.other" },
        });
        Assert.Equal("""{"x":1,"temp":20,"meta":{"location":"hall"}}""", One(p, """{"t":20,"x":1,"loc":"hall"}"""));
    }

    [Fact]
    public void Invoke_TargetParentIsNotAnObject_DeadLetterWrongType()
    {
        var p = Build(new StepOptions { Type = "rename", Rename = new() { ["value.t"] = "value.x.y" } });
        var o = Assert.Single(p.Process(Rec("""{"t":20,"x":1}""")));
        Assert.Equal(PipelineOutputKind.DeadLetter, o.Kind);
        Assert.Equal(PipelineDataException.WrongType, o.DeadLetter!.ErrorClass);
    }
}

[Trait("Category", "Unit")]
public sealed class SetStepTests
{
    [Fact]
    public void Invoke_ConstantsAndMetadata_WritesValueAndHeaders()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123));
        var p = RecordPipeline.Create(
            new PipelineOptions
            {
                SiteId = "store-42",
                Routes =
                [
                    new RouteOptions
                    {
                        Name = "r",
                        Sources = ["t"],
                        Lane = "normal",
                        Steps =
                        [
                            new StepOptions
                            {
                                Type = "set",
                                Set = new()
                                {
                                    ["value.site"] = "$site",
                                    ["value.meta.topic"] = "$topic",
                                    ["value.meta.partition"] = "$partition",
                                    ["value.meta.offset"] = "$offset",
                                    ["value.meta.ts"] = "$timestamp",
                                    ["value.meta.iso"] = "$timestampIso",
                                    ["value.meta.now"] = "$now",
                                    ["value.meta.route"] = "$route",
                                    ["value.meta.lane"] = "$lane",
                                    ["value.n"] = "42",
                                    ["value.b"] = "true",
                                    ["value.s"] = "plain text",
                                    ["value.q"] = "\"42\"",
                                    ["value.o"] = """{"k":[1,2]}""",
                                    ["value.dollar"] = "$$5",
                                    ["header.x-site"] = "$site",
                                    ["header.x-offset"] = "$offset",
                                },
                            },
                        ],
                    },
                ],
            },
            Lanes,
            time);
        var o = Assert.Single(p.Process(Rec("""{"v":1}""", offset: 9, partition: 3, ts: 1_600_000_000_000)));
        Assert.Equal(
            """{"v":1,"site":"store-42","meta":{"topic":"t","partition":3,"offset":9,"ts":1600000000000,"iso":"2020-09-13T12:26:40.000Z","now":1700000000123,"route":"r","lane":"normal"},"n":42,"b":true,"s":"plain text","q":"42","o":{"k":[1,2]},"dollar":"$5"}""",
            o.ValueText());
        Assert.Equal("store-42", o.Header("x-site"));
        Assert.Equal("9", o.Header("x-offset"));
    }

    [Fact]
    public void Invoke_HeaderOnly_LeavesValueBytesUntouched()
    {
        var p = Build(new StepOptions { Type = "set", Set = new() { ["header.x-route"] = "$route" } });
        const string raw = """{ "spaced" : 1 }""";
        var o = Assert.Single(p.Process(Rec(raw)));
        Assert.Equal(raw, o.ValueText());
        Assert.Equal("r", o.Header("x-route"));
    }
}
