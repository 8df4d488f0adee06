namespace Appliance.Core.Pipeline;

/// <summary>Continues the chain with a record: the next step, or the route's output after the last step.</summary>
/// <param name="context">The record to pass on (the current one, or one the step created with <see cref="RecordContext.Derive"/>).</param>
public delegate void StepDelegate(RecordContext context);

/// <summary>
/// One pipeline step (middleware). The step receives each record of its route with the
/// continuation <c>next</c> and decides: call <c>next(context)</c> to pass the record on (possibly changed), not call it to
/// drop the record, call it several times to emit several records, or throw to dead-letter the record (throw a
/// <see cref="PipelineDataException"/> for an expected data problem; any other exception is reported with its
/// type name as the error class).
/// </summary>
/// <remarks>
/// <para>Steps run synchronously on the ingest thread, one record at a time, in source order per partition:
/// they must not block on I/O. One instance serves one route, for all its partitions.</para>
/// <para>Plugins (site integrators' own steps) implement this interface in their own assembly, with a public
/// constructor taking either nothing or one <see cref="PluginStepSettings"/> argument; see docs/pipeline.md.</para>
/// </remarks>
public interface IPipelineStep
{
    /// <summary>Handles one record.</summary>
    /// <param name="context">The record being processed; its JSON value is parsed once and shared by all steps.</param>
    /// <param name="next">The rest of the chain.</param>
    void Invoke(RecordContext context, StepDelegate next);
}

/// <summary>The settings a plugin step receives: its route and the <c>Settings</c> map from its configuration.</summary>
/// <param name="Route">The route name.</param>
/// <param name="Settings">The plugin's free settings (names are case-insensitive).</param>
public sealed record PluginStepSettings(string Route, IReadOnlyDictionary<string, string?> Settings);
