using Microsoft.Extensions.Options;

namespace Appliance.Core.Pipeline;

/// <summary>
/// Validates <see cref="PipelineOptions"/> at start-up against the configured lane names: every problem of every
/// route is reported, each message naming the route and the problem (unknown lane, bad regex, expression syntax
/// error with a caret, unknown step type, bad step settings). Register it with
/// <c>services.AddSingleton&lt;IValidateOptions&lt;PipelineOptions&gt;&gt;(new PipelineOptionsValidator(laneNames))</c>
/// and <c>.ValidateOnStart()</c>.
/// </summary>
public sealed class PipelineOptionsValidator : IValidateOptions<PipelineOptions>
{
    private readonly IReadOnlyCollection<string> _knownLanes;

    /// <summary>Creates the validator.</summary>
    /// <param name="knownLanes">The buffer lane names routes may use.</param>
    public PipelineOptionsValidator(IEnumerable<string> knownLanes)
    {
        ArgumentNullException.ThrowIfNull(knownLanes);
        _knownLanes = [.. knownLanes];
    }

    /// <summary>Validates options without the options machinery.</summary>
    /// <param name="options">The options.</param>
    /// <param name="knownLanes">The buffer lane names.</param>
    /// <returns>Every problem found; empty when the options are valid.</returns>
    public static IReadOnlyList<string> Validate(PipelineOptions options, IEnumerable<string> knownLanes)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(knownLanes);
        var errors = new List<string>();
        PipelineBuilder.Build(options, [.. knownLanes], TimeProvider.System, errors);
        return errors;
    }

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, PipelineOptions options)
    {
        var errors = Validate(options, _knownLanes);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
