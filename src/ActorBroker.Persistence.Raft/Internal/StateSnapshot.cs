using System.IO.Pipelines;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Win32.SafeHandles;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// A complete snapshot file, as DotNext sends it to a member behind the compacted log: a full one as it is, an
/// indexed one converted to the full form on the way (bodies read from the files it references, which stay while
/// DotNext may read it).
/// </summary>
internal sealed class StateSnapshot(FileInfo file, long index, long term, byte? form, DirectoryInfo bodies) : ISnapshot
{
    private byte? _form = form;

    /// <summary><see cref="StateImage.Full"/> or <see cref="StateImage.Indexed"/> (read from the file when first asked).</summary>
    private byte Form
    {
        get
        {
            if (_form is { } known) return known;
            using var stream = file.OpenRead();
            return (_form = StateImage.ReadVersion(stream)).Value;
        }
    }

    public FileInfo File => file;
    public long Index => index;
    public long Term => term;
    public DateTimeOffset Timestamp => file.LastWriteTimeUtc;
    long? IDataTransferObject.Length => Form == StateImage.Full ? file.Length : null;
    bool IDataTransferObject.IsReusable => true;

    public async ValueTask WriteToAsync<TWriter>(TWriter writer, CancellationToken token) where TWriter : IAsyncBinaryWriter
    {
        await using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, JournalStateMachine.CopyBlock,
            FileOptions.Asynchronous | FileOptions.SequentialScan);
        if (Form == StateImage.Full)
        {
            await writer.CopyFromAsync(stream, count: null, token).ConfigureAwait(false);
            return;
        }

        // Indexed: the full form is produced on another thread into a pipe while this one sends what it produced.
        StateImage.ReadVersion(stream);
        var image = StateImage.Read(stream, StateImage.Indexed, static _ => throw new InvalidDataException("an indexed image holds no bodies"));
        var pipe = new Pipe();
        using var sending = CancellationTokenSource.CreateLinkedTokenSource(token);
        var producing = Task.Run(() => WriteFull(image, pipe.Writer, sending.Token), CancellationToken.None);
        try
        {
            await using var produced = pipe.Reader.AsStream();
            await writer.CopyFromAsync(produced, count: null, token).ConfigureAwait(false);
        }
        finally
        {
            await sending.CancelAsync().ConfigureAwait(false); // stops the producer if sending ended early
            await producing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        await producing.ConfigureAwait(false); // a producer failure fails the transfer
    }

    private void WriteFull(StateImage image, PipeWriter destination, CancellationToken token)
    {
        var handles = new Dictionary<int, SafeFileHandle>();
        try
        {
            using var buffered = new BufferedStream(destination.AsStream(leaveOpen: true), JournalStateMachine.CopyBlock);
            image.WriteFull(buffered, (location, span) =>
            {
                if (!handles.TryGetValue(location.Segment, out var handle))
                    handles[location.Segment] = handle = EventSegments.OpenForReading(bodies, location.Segment);
                EventSegments.ReadFile(handle, EventSegments.FileOf(bodies, location.Segment), location, span);
            }, token);
            buffered.Flush();
            destination.Complete();
        }
        catch (Exception e)
        {
            destination.Complete(e);
            throw;
        }
        finally
        {
            foreach (var handle in handles.Values) handle.Dispose();
        }
    }

    /// <summary>The snapshot a file named <c>index-term</c> holds; null for any other file.</summary>
    public static StateSnapshot? TryOpen(FileInfo file, DirectoryInfo bodies)
        => file.Name.Split('-') is [var i, var t] && long.TryParse(i, out var index) && long.TryParse(t, out var term)
            ? new StateSnapshot(file, index, term, form: null, bodies)
            : null;
}
