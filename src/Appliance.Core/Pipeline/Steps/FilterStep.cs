using Appliance.Core.Pipeline.Expressions;

namespace Appliance.Core.Pipeline.Steps;

/// <summary>Keeps (or drops) the records a predicate is true for.</summary>
internal sealed class FilterStep(FilterExpression expression, bool keep) : IPipelineStep
{
    public void Invoke(RecordContext context, StepDelegate next)
    {
        if (expression.Evaluate(context) == keep)
        {
            next(context);
        }
    }
}
