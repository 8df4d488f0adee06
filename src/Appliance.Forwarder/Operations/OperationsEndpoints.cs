using System.Text.Json;
using Appliance.Core.Status;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Appliance.Forwarder.Operations;

/// <summary>Route tables of the operations surface. Each is mapped on its own listener by <see cref="OperationsServer"/>.</summary>
public static class OperationsEndpoints
{
    /// <summary>Maps <c>/metrics</c>, <c>/healthz</c>, <c>/readyz</c> (read-only).</summary>
    public static IEndpointRouteBuilder MapApplianceMetrics(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var metrics = endpoints.ServiceProvider.GetRequiredService<ApplianceMetrics>();
        endpoints.MapMetrics("/metrics", metrics.Registry);
        endpoints.MapApplianceHealth();
        return endpoints;
    }

    /// <summary>Maps the status page <c>/</c>, <c>/status.json</c>, <c>/healthz</c>, <c>/readyz</c> (read-only).</summary>
    public static IEndpointRouteBuilder MapApplianceStatusPage(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var refresh = endpoints.ServiceProvider.GetRequiredService<IOptions<OperationsOptions>>().Value.StatusRefreshSeconds;
        var page = StatusPage.Render(refresh);
        endpoints.MapGet("/", (HttpContext ctx) =>
        {
            ctx.Response.Headers.CacheControl = "no-store";
            ctx.Response.Headers["Content-Security-Policy"] = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'";
            ctx.Response.Headers["X-Content-Type-Options"] = "nosniff";
            return Results.Content(page, "text/html; charset=utf-8");
        });
        endpoints.MapGet("/status.json", StatusJson);
        endpoints.MapApplianceHealth();
        return endpoints;
    }

    /// <summary>
    /// Maps the admin API used by <c>appliancectl</c>: <c>GET /v1/status</c>, <c>POST /v1/lanes/{name}/pause</c>,
    /// <c>POST /v1/lanes/{name}/resume</c>, <c>POST /v1/drain</c>, plus health. Map it only on the admin Unix socket.
    /// </summary>
    public static IEndpointRouteBuilder MapApplianceAdmin(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/v1/status", StatusJson);
        endpoints.MapPost("/v1/lanes/{name}/pause", (string name, IApplianceControl control, ILogger<OperationsServer> logger, CancellationToken ct)
            => Command("pause", name, control.PauseLaneAsync(name, ct), logger));
        endpoints.MapPost("/v1/lanes/{name}/resume", (string name, IApplianceControl control, ILogger<OperationsServer> logger, CancellationToken ct)
            => Command("resume", name, control.ResumeLaneAsync(name, ct), logger));
        endpoints.MapPost("/v1/drain", (IApplianceControl control, ILogger<OperationsServer> logger, CancellationToken ct)
            => Command("drain", "", control.DrainNowAsync(ct), logger));
        endpoints.MapApplianceHealth();
        return endpoints;
    }

    private static void MapApplianceHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", (HealthEvaluator health) => Verdict(health.Liveness(), "healthy"));
        endpoints.MapGet("/readyz", (HealthEvaluator health) => Verdict(health.Readiness(), "ready"));
    }

    private static IResult Verdict(HealthVerdict v, string word)
        => Results.Text(v.Describe(word) + "\n", "text/plain; charset=utf-8", statusCode: v.Healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);

    private static IResult StatusJson(HttpContext ctx, IApplianceStatusSource source, ILogger<OperationsServer> logger)
    {
        ctx.Response.Headers.CacheControl = "no-store";
        ApplianceStatus status;
        try
        {
            status = source.GetStatus();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            OperationsLog.StatusFailed(logger, e, ctx.Request.Path);
            return Results.Text("status unavailable: " + e.Message + "\n", "text/plain; charset=utf-8", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        return Results.Text(JsonSerializer.Serialize(status, StatusJsonContext.Default.ApplianceStatus), "application/json; charset=utf-8");
    }

    private static async Task<IResult> Command(string command, string lane, ValueTask<ControlOutcome> action, ILogger logger)
    {
        var outcome = await action;
        OperationsLog.AdminCommand(logger, command, lane, outcome.ToString());
        var (code, message) = outcome switch
        {
            ControlOutcome.Done => (StatusCodes.Status200OK, command == "drain" ? "drain triggered" : $"lane '{lane}' {command}d"),
            ControlOutcome.Unchanged => (StatusCodes.Status200OK, $"lane '{lane}' was already {(command == "pause" ? "paused" : "running")}"),
            ControlOutcome.UnknownLane => (StatusCodes.Status404NotFound, $"no lane named '{lane}'"),
            _ => (StatusCodes.Status503ServiceUnavailable, "the forwarder cannot act now (starting or stopping); try again"),
        };
        return Results.Text(JsonSerializer.Serialize(new CommandReply(outcome, message), StatusJsonContext.Default.CommandReply), "application/json; charset=utf-8", statusCode: code);
    }
}
