using System.Text.Json.Nodes;

namespace Appliance.Core.Pipeline.Steps;

/// <summary>Keeps only the listed value fields (then) removes the dropped ones.</summary>
internal sealed class ProjectStep(FieldPath[] keep, FieldPath[] drop) : IPipelineStep
{
    public void Invoke(RecordContext context, StepDelegate next)
    {
        var value = context.Value;
        if (keep.Length > 0)
        {
            var result = new JsonObject();
            foreach (var path in keep)
            {
                if (path.TryGet(value, out var node))
                {
                    // A node has one parent: detach it from the source object before adding it to the result.
                    path.GetParent(value, create: false)?.Remove(path.Leaf);
                    path.GetParent(result, create: true)![path.Leaf] = node;
                }
            }

            context.SetValue(result);
            value = result;
        }

        foreach (var path in drop)
        {
            path.GetParent(value, create: false)?.Remove(path.Leaf);
        }

        context.MarkValueChanged();
        next(context);
    }
}
