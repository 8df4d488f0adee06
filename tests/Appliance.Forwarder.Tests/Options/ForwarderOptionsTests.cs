using Appliance.Buffer;
using Appliance.Forwarder.Hosting;
using Appliance.Forwarder.Options;

namespace Appliance.Forwarder.Tests.Options;

[Trait("Category", "Unit")]
public sealed class ForwarderOptionsTests
{
    private static ForwarderConfiguration Valid() => new()
    {
        Site = new() { Id = "store-042" },
        Buffer = new BufferOptions
        {
            DataDirectory = "/tmp/x",
            TotalBudgetBytes = 1L << 30,
            Lanes = [new LaneOptions { Name = "critical", QuotaBytes = 512L << 20 }, new LaneOptions { Name = "bulk", QuotaBytes = 512L << 20 }],
        },
        Edge = new() { BootstrapServers = "edge:9092" },
        Central = new() { BootstrapServers = "central:9092" },
        Routes = [new RouteOptions { Topics = ["alarms"], Lane = "critical" }, new RouteOptions { Topics = ["^sensor\\..*"], Lane = "bulk", Destination = "keep" }],
    };

    [Fact]
    public void Problems_ValidConfiguration_None() => Assert.Empty(ForwarderConfigurationValidator.Problems(Valid()));

    [Theory]
    [InlineData("store-042", true)]
    [InlineData("a", true)]
    [InlineData("Store", false)]
    [InlineData("-store", false)]
    [InlineData("store_42", false)]
    [InlineData("", false)]
    public void Problems_SiteId_FollowsPattern(string id, bool valid)
    {
        var c = Valid();
        c.Site.Id = id;
        Assert.Equal(valid, !ForwarderConfigurationValidator.Problems(c).Any(p => p.StartsWith("Site:Id", StringComparison.Ordinal)));
    }

    [Fact]
    public void Problems_UnknownLaneBadRegexBadTemplate_EachNamedByKey()
    {
        var c = Valid();
        c.Routes[0].Lane = "fast";
        c.Routes[1].Topics = ["^sensor("];
        c.Routes[1].Destination = "{site}.{zone}";
        c.Central.BootstrapServers = "";
        var problems = ForwarderConfigurationValidator.Problems(c).ToList();
        Assert.Contains(problems, p => p.StartsWith("Routes:0:Lane: unknown lane 'fast'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Routes:1:Topics:0: invalid regular expression", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Routes:1:Destination: unknown placeholder '{zone}'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Central:BootstrapServers", StringComparison.Ordinal));
    }

    [Fact]
    public void Problems_QuotaAboveBudget_ReportedFromBufferValidation()
    {
        var c = Valid();
        c.Buffer.Lanes[0].QuotaBytes = 2L << 30;
        Assert.Contains(ForwarderConfigurationValidator.Problems(c), p => p.StartsWith("Buffer:Lanes:0:QuotaBytes", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{site}.{topic}", "store-042.alarms")]
    [InlineData("keep", "alarms")]
    [InlineData("edge.{lane}.{topic}", "edge.critical.alarms")]
    public void Render_Template_Placeholders(string template, string expected)
    {
        var t = TopicTemplate.TryParse(template, out var error);
        Assert.Null(error);
        Assert.Equal(expected, t!.Render("store-042", "alarms", "critical"));
    }

    [Theory]
    [InlineData("{site}.{region}")]
    [InlineData("a b")]
    [InlineData("")]
    [InlineData("{site")]
    public void TryParse_BadTemplate_Error(string template)
    {
        Assert.Null(TopicTemplate.TryParse(template, out var error));
        Assert.NotNull(error);
    }

    [Fact]
    public void Resolve_FirstMatchingRouteWins_RegexIsFullMatch()
    {
        var c = Valid();
        c.Routes.Add(new RouteOptions { Topics = ["^.*"], Lane = "critical", Name = "catch-all" });
        var table = new RouteTable(c);
        Assert.Equal(new ResolvedRoute("critical", "critical", "store-042.alarms"), table.Resolve("alarms"));
        Assert.Equal(new ResolvedRoute("bulk", "bulk", "sensor.temp"), table.Resolve("sensor.temp"));
        Assert.Equal("catch-all", table.Resolve("xsensor.temp")!.Route);
        Assert.Equal(["alarms", "^sensor\\..*", "^.*"], table.Subscription);
    }

    [Fact]
    public void Resolve_NoRoute_Null()
    {
        var table = new RouteTable(Valid());
        Assert.Null(table.Resolve("other"));
    }

    [Theory]
    [InlineData("sasl.password", true)]
    [InlineData("ssl.key.password", true)]
    [InlineData("ssl.key.pem", true)]
    [InlineData("sasl.oauthbearer.client.secret", true)]
    [InlineData("sasl.username", false)]
    [InlineData("security.protocol", false)]
    public void IsSecret_Keys(string key, bool secret) => Assert.Equal(secret, KafkaSettings.IsSecret(key));

    [Fact]
    public void Describe_SecretsRedacted()
    {
        var c = Valid();
        c.Central.Kafka["sasl.password"] = "hunter2";
        c.Edge.Kafka["ssl.key.password"] = "s3cret";
        c.Central.Kafka["sasl.username"] = "site";
        var text = ForwarderHostBuilder.Describe(c);
        Assert.DoesNotContain("hunter2", text, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", text, StringComparison.Ordinal);
        Assert.Contains("\"sasl.username\":\"site\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public void CentralProducer_GuaranteesNotOverriddenByPassThrough()
    {
        var c = Valid();
        c.Central.Kafka["acks"] = "1";
        c.Central.Kafka["enable.idempotence"] = "false";
        c.Central.Kafka["linger.ms"] = "50";
        var p = KafkaSettings.CentralProducer(c.Central, c.Site.Id);
        Assert.Equal(Confluent.Kafka.Acks.All, p.Acks);
        Assert.True(p.EnableIdempotence);
        Assert.Equal(50, p.LingerMs);
        Assert.Equal("appliance-forwarder-store-042", p.TransactionalId);
        c.Central.Delivery = DeliveryMode.AtLeastOnce;
        Assert.Null(KafkaSettings.CentralProducer(c.Central, c.Site.Id).TransactionalId);
    }

    [Fact]
    public void CentralProducer_MessageTimeout_TransactionTimeoutOnlyInsideTransactions()
    {
        var c = Valid();
        c.Central.TransactionTimeoutMs = 7000;
        c.Central.Kafka["message.timeout.ms"] = "1000";
        Assert.Equal(7000, KafkaSettings.CentralProducer(c.Central, c.Site.Id).MessageTimeoutMs);
        // At-least-once: a message timing out inside a live idempotent producer leaves a gap that breaks per-key order
        // when the batch is resent; the drain ends the producer instead.
        c.Central.Delivery = DeliveryMode.AtLeastOnce;
        Assert.Equal(0, KafkaSettings.CentralProducer(c.Central, c.Site.Id).MessageTimeoutMs);
    }

    [Fact]
    public void CentralProducer_DeliveryReports_OnlyWithoutTransactions()
    {
        var c = Valid();
        // Exactly once: a failed record fails the commit, so no report per record is queued (and none can be asked
        // for: Confluent.Kafka refuses a delivery handler when reports are off).
        c.Central.Kafka["dotnet.producer.enable.delivery.reports"] = "true";
        Assert.False(KafkaSettings.CentralProducer(c.Central, c.Site.Id).EnableDeliveryReports);
        // At-least-once learns of failed records only from their reports: not negotiable through pass-through either.
        c.Central.Delivery = DeliveryMode.AtLeastOnce;
        c.Central.Kafka["dotnet.producer.enable.delivery.reports"] = "false";
        Assert.True(KafkaSettings.CentralProducer(c.Central, c.Site.Id).EnableDeliveryReports);
    }

    [Fact]
    public void Parse_ConfigAndSiteConfig_RestPassedOn()
    {
        var a = ForwarderArguments.Parse(["--config", "/etc/appliance/forwarder.json", "--site-config=/data/site/site.json", "--Site:Id=x"], out var error);
        Assert.Null(error);
        Assert.Equal("/etc/appliance/forwarder.json", a!.ConfigFile);
        Assert.Equal("/data/site/site.json", a.SiteConfigFile);
        Assert.Equal(["--Site:Id=x"], a.Remaining);
        Assert.Null(ForwarderArguments.Parse(["--config"], out error));
        Assert.NotNull(error);
    }

    [Fact]
    public void ReserveBlockingThreads_RaisesPoolMinimum_NeverLowersIt()
    {
        ThreadPool.GetMinThreads(out var before, out var io);
        try
        {
            ForwarderHostBuilder.ReserveBlockingThreads();
            ThreadPool.GetMinThreads(out var raised, out var ioAfter);
            Assert.True(raised >= Environment.ProcessorCount + ForwarderHostBuilder.ReservedPoolThreads, $"minimum {raised} worker threads");
            Assert.Equal(io, ioAfter);

            var higher = Environment.ProcessorCount + ForwarderHostBuilder.ReservedPoolThreads + 10;
            Assert.True(ThreadPool.SetMinThreads(higher, io));
            ForwarderHostBuilder.ReserveBlockingThreads();
            ThreadPool.GetMinThreads(out var kept, out _);
            Assert.Equal(higher, kept);
        }
        finally
        {
            ThreadPool.SetMinThreads(Math.Max(before, Environment.ProcessorCount + ForwarderHostBuilder.ReservedPoolThreads), io);
        }
    }
}
