namespace Appliance.TestKit;

/// <summary>A fresh directory under the system temp path, deleted with everything in it on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    /// <summary>Creates <c>{tmp}/appliance-{prefix}-{random}</c>.</summary>
    public TempDirectory(string prefix = "test")
    {
        Path = Directory.CreateTempSubdirectory($"appliance-{prefix}-").FullName;
    }

    /// <summary>Absolute path of the directory.</summary>
    public string Path { get; }

    /// <summary>Combines <paramref name="parts"/> under <see cref="Path"/> (nothing is created).</summary>
    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>Deletes the directory recursively; a directory already gone is fine.</summary>
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Already removed by the test itself.
        }
    }

    /// <inheritdoc />
    public override string ToString() => Path;
}
