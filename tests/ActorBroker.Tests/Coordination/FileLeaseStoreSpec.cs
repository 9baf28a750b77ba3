using ActorBroker.Coordination;
using ActorBroker.Coordination.Internal;
using ActorBroker.Testing;
using Akka.Configuration;
using Akka.Coordination;
using Xunit;

namespace ActorBroker.Tests.Coordination;

/// <summary>The file store's conditional writes on a real directory: lock files, stale-lock breaking, epochs.</summary>
public sealed class FileLeaseStoreSpec : IDisposable
{
    private const string LeaseName = "akka-singleton-/system/broker";
    private readonly TempDirectory _directory = new("actorbroker-file-store");
    private readonly FileLeaseSettings _settings;

    public FileLeaseStoreSpec()
    {
        var config = ConfigurationFactory.ParseString($"directory = \"{_directory.Path}\", max-clock-skew = 0ms, lock-stale-after = 5s");
        var timeouts = new TimeoutSettings(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(500));
        _settings = FileLeaseSettings.Create(new LeaseSettings(LeaseName, "owner-a", timeouts, config));
    }

    public void Dispose() => _directory.Dispose();

    [Fact(DisplayName = "File store should keep the epoch across a release and give the next acquisition epoch + 1")]
    public async Task EpochSurvivesRelease()
    {
        var a = Store("a");
        var b = Store("b");
        var first = await AcquireAsync(a);
        Assert.True(await a.ReleaseAsync(first, Timeout()));

        var free = await b.ReadAsync(Timeout());
        Assert.True(free.IsFree);
        Assert.Equal(first.Epoch, free.Epoch);
        Assert.Equal(first.Epoch + 1, (await AcquireAsync(b)).Epoch);
    }

    [Fact(DisplayName = "File store should refuse a conditional write against a record that changed since it was read")]
    public async Task RefusesStaleCompareAndSet()
    {
        var a = Store("a");
        var b = Store("b");
        var seenByB = await b.ReadAsync(Timeout());
        var heldByA = await AcquireAsync(a);

        var result = await b.TryAcquireAsync(seenByB, Timeout());
        Assert.False(result.Succeeded);
        Assert.True(result.Record.IsSameHold(heldByA));
    }

    [Fact(DisplayName = "File store should break a lock file left behind by a writer that died mid-write")]
    public async Task BreaksStaleLock()
    {
        var a = Store("a");
        Assert.True(await a.ReleaseAsync(await AcquireAsync(a), Timeout()));
        var lockPath = LockPath();
        await File.WriteAllTextAsync(lockPath, "a writer that died");
        File.SetLastWriteTimeUtc(lockPath, DateTime.UtcNow - TimeSpan.FromSeconds(10));

        var b = Store("b");
        Assert.Equal(2, (await AcquireAsync(b)).Epoch);
        Assert.False(File.Exists(lockPath));
    }

    [Fact(DisplayName = "File store should wait for, not break, a lock that a live writer took a moment ago")]
    public async Task WaitsForFreshLock()
    {
        var a = Store("a");
        Assert.True(await a.ReleaseAsync(await AcquireAsync(a), Timeout()));
        var lockPath = LockPath();
        await File.WriteAllTextAsync(lockPath, "a live writer");

        var b = Store("b");
        var seen = await b.ReadAsync(Timeout());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => b.TryAcquireAsync(seen, new CancellationTokenSource(TimeSpan.FromMilliseconds(300)).Token));
        Assert.Equal("a live writer", await File.ReadAllTextAsync(lockPath));

        File.Delete(lockPath);
        Assert.True((await b.TryAcquireAsync(seen, Timeout())).Succeeded);
    }

    [Fact(DisplayName = "File store should report an unreachable directory as a LeaseException, never as a free lease")]
    public async Task UnreachableDirectoryIsAnError()
    {
        var a = Store("a");
        var held = await AcquireAsync(a);
        Directory.Move(_directory.Path, _directory.Path + "-gone");
        try
        {
            await Assert.ThrowsAsync<LeaseException>(() => a.ReadAsync(Timeout()));
            await Assert.ThrowsAsync<LeaseException>(() => a.HeartbeatAsync(held, Timeout()));
        }
        finally
        {
            Directory.Move(_directory.Path + "-gone", _directory.Path);
        }
    }

    private FileLeaseStore Store(string owner) => new(_settings, LeaseName, owner, Incarnations.New());

    private static async Task<LeaseRecord<long>> AcquireAsync(FileLeaseStore store)
    {
        var result = await store.TryAcquireAsync(await store.ReadAsync(Timeout()), Timeout());
        Assert.True(result.Succeeded, $"acquire failed: {result.Record}");
        return result.Record;
    }

    private string LockPath() => Path.ChangeExtension(Directory.GetFiles(_directory.Path, "*.lease").Single(), ".lock");

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token;
}
