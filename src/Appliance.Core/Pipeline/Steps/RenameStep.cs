namespace Appliance.Core.Pipeline.Steps;

/// <summary>Moves value fields to new paths (absent source fields are ignored; an existing target is replaced).</summary>
internal sealed class RenameStep((FieldPath From, FieldPath To)[] renames) : IPipelineStep
{
    public void Invoke(RecordContext context, StepDelegate next)
    {
        var value = context.Value;
        foreach (var (from, to) in renames)
        {
            if (from.TryGet(value, out var node))
            {
                from.GetParent(value, create: false)!.Remove(from.Leaf);
                to.GetParent(value, create: true)![to.Leaf] = node;
            }
        }

        context.MarkValueChanged();
        next(context);
    }
}
