using ActorBroker.Persistence.Raft.Internal;
using ActorBroker.Testing;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Xunit;

namespace ActorBroker.Tests.Raft;

/// <summary>
/// The replica's state machine under DotNext's real write-ahead log (one member, no network): log compaction must not
/// stop commits, and a snapshot holds exactly the state at its index.
/// </summary>
public sealed class JournalStateMachineSpec : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _directory = new("journal-state-machine-spec");
    private readonly List<IAsyncDisposable> _disposables = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var d in Enumerable.Reverse(_disposables)) await d.DisposeAsync();
        _directory.Dispose();
    }

    private async Task<JournalStateMachine> StartMachineAsync(string bodies)
    {
        // snapshot-interval 1: a snapshot is due after every entry whose log bytes reach half the state's payload
        var machine = new JournalStateMachine(new DirectoryInfo(_directory.Combine("state")), new DirectoryInfo(_directory.Combine(bodies)),
            snapshotInterval: 1, dedupWindow: 1000);
        _disposables.Add(machine);
        await machine.RestoreAsync(CancellationToken.None);
        return machine;
    }

    private WriteAheadLog StartLog(JournalStateMachine machine)
    {
        var log = new WriteAheadLog(new WriteAheadLog.Options { Location = _directory.Combine("wal") }, machine);
        _disposables.Add(log);
        return log;
    }

    private static async Task CommitAsync(WriteAheadLog log, params JournalOperation[] operations)
    {
        var index = await log.AppendAsync(new BinaryLogEntry { Content = OperationCodec.Encode(operations), Term = 1 });
        await log.CommitAsync(index);
        await log.WaitForApplyAsync(index).AsTask().WaitAsync(Patience);
    }

    private static WriteEvents Write(string pid, long from, int count) => new(Guid.NewGuid(), 0, pid,
        Enumerable.Range(0, count).Select(i => new StoredEvent(from + i, Enumerable.Repeat((byte)(from + i), 1000).ToArray())).ToList());

    [Fact(DisplayName = "Entries are applied and committed while a snapshot is being written; the snapshot then holds the state at its own index")]
    public async Task SnapshotDoesNotStopCommits()
    {
        var machine = await StartMachineAsync("bodies");
        var writing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        machine.BeforeSnapshotWrite = () =>
        {
            writing.TrySetResult();
            return release.Task;
        };
        var log = StartLog(machine);

        await CommitAsync(log, Write("a", 1, 20));                   // index 1: a snapshot is due here
        await writing.Task.WaitAsync(Patience);                       // and its writer is held
        // DotNext's SimpleStateMachine would make the next apply wait for that snapshot: these commits would hang
        await CommitAsync(log, Write("a", 21, 20));
        await CommitAsync(log, new DeleteEventsTo(Guid.NewGuid(), 0, "a", 40)); // releases bodies the held snapshot still reads
        await CommitAsync(log, Write("b", 1, 5));
        Assert.Equal(40, machine.HighestSequenceNr("a"));
        Assert.Null(((ISnapshotManager)machine).Snapshot);            // published only once complete

        release.SetResult();
        await machine.SnapshotWriting.WaitAsync(Patience);
        var snapshot = ((ISnapshotManager)machine).Snapshot;
        Assert.NotNull(snapshot);
        Assert.Equal(1, snapshot.Index);

        // The node stops; restarted from that snapshot alone (no log), it sees exactly index 1: a's first 20 events,
        // bodies intact although all 40 were deleted (their file stayed for the snapshot), and no b.
        _disposables.Remove(log);
        _disposables.Remove(machine);
        await log.DisposeAsync();
        await machine.DisposeAsync();
        await using var restored = new JournalStateMachine(new DirectoryInfo(_directory.Combine("state")), new DirectoryInfo(_directory.Combine("bodies")),
            snapshotInterval: 1000, dedupWindow: 1000);
        await restored.RestoreAsync(CancellationToken.None);
        Assert.Equal(1, restored.LastAppliedIndex);
        var events = restored.ReadEvents("a", 1, long.MaxValue, long.MaxValue);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), events.Select(e => e.SequenceNr));
        Assert.All(events, e => Assert.True(e.Bytes.ToArray().All(b => b == (byte)e.SequenceNr)));
        Assert.Equal(0, restored.HighestSequenceNr("b"));
    }

    [Fact(DisplayName = "A replica's own snapshot is its index plus the body files; sent to a member behind the log it arrives in the full form, bodies inline, even after those events were deleted here")]
    public async Task IndexedSnapshotIsSentInFullForm()
    {
        var machine = await StartMachineAsync("bodies");
        var log = StartLog(machine);
        await CommitAsync(log, Write("a", 1, 20));                    // index 1: snapshot
        await machine.SnapshotWriting.WaitAsync(Patience);
        var snapshot = ((ISnapshotManager)machine).Snapshot!;
        Assert.Equal(1, snapshot.Index);
        Assert.Null(snapshot.Length);                                  // generated as it is sent
        Assert.True(new FileInfo(_directory.Combine("state", "1-1")).Length < 20 * 1000 / 4, "an own snapshot holds no bodies");
        await CommitAsync(log, new DeleteEventsTo(Guid.NewGuid(), 0, "a", 20)); // the bodies are still the snapshot's

        using var sent = new MemoryStream();
        await snapshot.WriteToAsync(IAsyncBinaryWriter.Create(sent, new byte[4096]), CancellationToken.None);
        Assert.Equal(StateImage.Full, sent.ToArray()[0]);
        using var receiver = new JournalState(1000, new DirectoryInfo(_directory.Combine("receiver-bodies")));
        sent.Position = 0;
        Assert.Empty(receiver.Restore(sent));                          // a full image refers to no files of the sender
        var events = receiver.ReadEvents("a", 1, long.MaxValue, long.MaxValue);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), events.Select(e => e.SequenceNr));
        Assert.All(events, e => Assert.True(e.Bytes.ToArray().All(b => b == (byte)e.SequenceNr)));
    }

    [Fact(DisplayName = "A snapshot a crash left unfinished is deleted at start and never restored")]
    public async Task UnfinishedSnapshotIsIgnored()
    {
        Directory.CreateDirectory(_directory.Combine("state"));
        var partial = _directory.Combine("state", "7-1.partial");
        await File.WriteAllBytesAsync(partial, [1, 2, 3]); // not even a valid image: restoring it would throw
        var machine = await StartMachineAsync("bodies");
        Assert.False(File.Exists(partial));
        Assert.Null(((ISnapshotManager)machine).Snapshot);
        Assert.Equal(0, machine.LastAppliedIndex);
        Assert.Equal(0, machine.RestoredSnapshots);
    }
}
