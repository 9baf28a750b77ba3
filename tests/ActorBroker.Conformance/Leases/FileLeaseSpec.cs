using ActorBroker.Testing;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Conformance.Leases;

/// <summary>The lease contract for <c>FileLease</c>: each spec gets its own temp directory (standing in for the shared mount).</summary>
public sealed class FileLeaseSpec(ITestOutputHelper output) : LeaseConformanceSpec(output)
{
    private readonly TempDirectory _root = new("actorbroker-file-lease");

    private string Directory => _root.Combine("shared");

    private string MovedAway => _root.Combine("shared-unmounted");

    protected override string ConfigPath => "actorbroker.coordination.file-lease";

    // Nodes share one machine here: no clock skew to allow for.
    protected override string LeaseSection(string owner) => $"directory = \"{Directory}\"\ncreate-directory = on\nmax-clock-skew = 0ms";

    // Root ignores permission bits, so an outage is the directory disappearing (an unmounted share) and a plain file
    // appearing in its place.
    protected override Task MakeStoreUnreachableAsync()
    {
        System.IO.Directory.Move(Directory, MovedAway);
        File.WriteAllText(Directory, "not a directory");
        return Task.CompletedTask;
    }

    protected override Task RestoreStoreAsync()
    {
        File.Delete(Directory);
        System.IO.Directory.Move(MovedAway, Directory);
        return Task.CompletedTask;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _root.Dispose();
    }

    [Fact(DisplayName = "File lease should refuse to start with a clear error when its directory does not exist")]
    public void RejectsMissingDirectory()
    {
        var missing = _root.Combine("no-such-dir");
        var error = AssertConfigurationError(() => StartNode("x", $"directory = \"{missing}\"\ncreate-directory = off"));
        Assert.Contains("directory", error.Message);
        Assert.Contains(missing, error.Message);
    }

    [Fact(DisplayName = "File lease should refuse to start with a clear error when no directory is configured")]
    public void RejectsEmptyDirectory()
    {
        var error = AssertConfigurationError(() => StartNode("x", "directory = \"\""));
        Assert.Contains("actorbroker.coordination.file-lease.directory", error.Message);
    }
}
