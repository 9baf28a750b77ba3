namespace ActorBroker.Testing;

/// <summary>A fresh directory under the system temp path, removed (recursively) on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "actorbroker")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    /// <summary>Absolute path of the directory.</summary>
    public string Path { get; }

    /// <summary>A path inside this directory (not created).</summary>
    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        // A test may have replaced the directory by a file (store outage tests); remove whatever is there.
        try
        {
            if (File.Exists(Path)) File.Delete(Path);
            else if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A process we started may still be exiting and holding a file; one retry after it is gone is enough.
            Thread.Sleep(200);
            if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
        }
    }
}
