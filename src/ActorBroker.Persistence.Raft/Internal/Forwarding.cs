using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// Write forwarding from a follower to the Raft leader (only the leader may append to the log), over a small
/// length-prefixed TCP request/response protocol, one request in flight per connection:
/// request  = int32 length, operation batch (<see cref="OperationCodec"/>);
/// response = int32 length, status byte (0 ok, 1 not leader, 2 failed), then for ok: count and per operation
/// (code byte, log index int64, detail string); otherwise a message string.
/// A follower also sends applied-index reports (quorum_disk) on a connection of their own, unanswered: int32 length
/// 13, marker byte 0xD5 (an operation batch starts with its version, 1), int32 member index, int64 applied index.
/// </summary>
internal static class ForwardingProtocol
{
    public const byte StatusOk = 0, StatusNotLeader = 1, StatusFailed = 2;
    public const int MaxFrameBytes = 256 * 1024 * 1024;
    private const byte AppliedReportMarker = 0xD5;

    public static byte[] EncodeAppliedReport(int member, long index)
    {
        var frame = new byte[13];
        frame[0] = AppliedReportMarker;
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(1), member);
        BinaryPrimitives.WriteInt64LittleEndian(frame.AsSpan(5), index);
        return frame;
    }

    public static bool TryDecodeAppliedReport(byte[] frame, out int member, out long index)
    {
        member = 0;
        index = 0;
        if (frame.Length != 13 || frame[0] != AppliedReportMarker) return false;
        member = BinaryPrimitives.ReadInt32LittleEndian(frame.AsSpan(1));
        index = BinaryPrimitives.ReadInt64LittleEndian(frame.AsSpan(5));
        return true;
    }

    public static async Task WriteFrameAsync(Stream stream, byte[] body, CancellationToken token)
    {
        var header = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(header, body.Length);
        await stream.WriteAsync(header, token).ConfigureAwait(false);
        await stream.WriteAsync(body, token).ConfigureAwait(false);
        await stream.FlushAsync(token).ConfigureAwait(false);
    }

    /// <summary>Reads one frame; null when the peer closed the connection cleanly before a frame began.</summary>
    public static async Task<byte[]?> ReadFrameAsync(Stream stream, CancellationToken token)
    {
        var header = new byte[4];
        var read = await stream.ReadAtLeastAsync(header, 4, throwOnEndOfStream: false, token).ConfigureAwait(false);
        if (read == 0) return null;
        if (read < 4) throw new EndOfStreamException("raft journal forwarding: connection closed inside a frame header");
        var length = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (length is < 0 or > MaxFrameBytes)
            throw new InvalidDataException($"raft journal forwarding: frame length [{length}] outside [0, {MaxFrameBytes}]");
        var body = new byte[length];
        await stream.ReadExactlyAsync(body, token).ConfigureAwait(false);
        return body;
    }

    public static byte[] EncodeOk(IReadOnlyList<OperationOutcome> outcomes)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(StatusOk);
            writer.Write(outcomes.Count);
            foreach (var o in outcomes)
            {
                writer.Write((byte)o.Code);
                writer.Write(o.LogIndex);
                writer.Write(o.Detail);
            }
        }
        return stream.ToArray();
    }

    public static byte[] EncodeError(byte status, string message)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(status);
            writer.Write(message);
        }
        return stream.ToArray();
    }

    /// <summary>Decodes a response: the outcomes, or a status and error message.</summary>
    public static (byte Status, OperationOutcome[] Outcomes, string Error) DecodeResponse(byte[] body)
    {
        using var reader = new BinaryReader(new MemoryStream(body, writable: false), Encoding.UTF8);
        var status = reader.ReadByte();
        if (status != StatusOk) return (status, [], reader.ReadString());
        var outcomes = new OperationOutcome[reader.ReadInt32()];
        for (var i = 0; i < outcomes.Length; i++)
            outcomes[i] = new OperationOutcome((OutcomeCode)reader.ReadByte(), reader.ReadInt64(), reader.ReadString());
        return (status, outcomes, "");
    }
}

/// <summary>
/// The leader side of forwarding: accepts follower connections on this node's forwarding endpoint and submits
/// each request's operations to the local replica, which answers "not leader" unless it leads right now (a forwarded
/// batch is never forwarded again, so two nodes with stale views cannot bounce a batch between them).
/// </summary>
internal sealed class ForwardingServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<List<JournalOperation>, CancellationToken, Task<OperationOutcome[]>> _submitAsLeader;
    private readonly Action<int, long> _appliedReport;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<TcpClient> _connections = [];
    private Task _acceptLoop = Task.CompletedTask;

    public ForwardingServer(IPEndPoint endpoint, Func<List<JournalOperation>, CancellationToken, Task<OperationOutcome[]>> submitAsLeader,
        Action<int, long> appliedReport)
    {
        _listener = new TcpListener(endpoint);
        _submitAsLeader = submitAsLeader;
        _appliedReport = appliedReport;
    }

    public void Start()
    {
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        _acceptLoop = AcceptLoopAsync();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stopping.Token).ConfigureAwait(false); }
            catch (Exception) when (_stopping.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            client.NoDelay = true;
            lock (_connections) _connections.Add(client);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        try
        {
            var stream = client.GetStream();
            while (await ForwardingProtocol.ReadFrameAsync(stream, _stopping.Token).ConfigureAwait(false) is { } request)
            {
                if (ForwardingProtocol.TryDecodeAppliedReport(request, out var member, out var appliedIndex))
                {
                    _appliedReport(member, appliedIndex); // unanswered
                    continue;
                }
                byte[] response;
                try
                {
                    var outcomes = await _submitAsLeader(OperationCodec.Decode(request), _stopping.Token).ConfigureAwait(false);
                    response = ForwardingProtocol.EncodeOk(outcomes);
                }
                catch (NotLeaderNowException e)
                {
                    response = ForwardingProtocol.EncodeError(ForwardingProtocol.StatusNotLeader, e.Message);
                }
                catch (Exception e) when (!_stopping.IsCancellationRequested)
                {
                    response = ForwardingProtocol.EncodeError(ForwardingProtocol.StatusFailed, e.Message);
                }
                await ForwardingProtocol.WriteFrameAsync(stream, response, _stopping.Token).ConfigureAwait(false);
            }
        }
        catch (Exception)
        {
            // connection dropped or server stopping: the follower retries or times out; nothing to report here
        }
        finally
        {
            lock (_connections) _connections.Remove(client);
            client.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        lock (_connections)
        {
            foreach (var c in _connections) c.Dispose();
            _connections.Clear();
        }
        await _acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
    }
}

/// <summary>Thrown on the leader side when a forwarded batch reaches a node that is not (or no longer) the leader.</summary>
internal sealed class NotLeaderNowException(string message) : Exception(message);

/// <summary>
/// The follower side of forwarding: one connection to the current leader's forwarding endpoint, reconnected when
/// the leader changes or the connection fails, one request in flight at a time. The committer loop owns one for its
/// batches; the applied-index reporter (quorum_disk) owns another, so reports never wait behind a batch.
/// </summary>
internal sealed class ForwardingClient : IDisposable
{
    private TcpClient? _client;
    private IPEndPoint? _endpoint;

    public Task<(byte Status, OperationOutcome[] Outcomes, string Error)> SendAsync(IPEndPoint leader, byte[] request, CancellationToken token)
        => UseAsync(leader, async stream =>
        {
            await ForwardingProtocol.WriteFrameAsync(stream, request, token).ConfigureAwait(false);
            var response = await ForwardingProtocol.ReadFrameAsync(stream, token).ConfigureAwait(false)
                ?? throw new EndOfStreamException($"raft journal forwarding: leader [{leader}] closed the connection");
            return ForwardingProtocol.DecodeResponse(response);
        }, token);

    /// <summary>Tells the leader this follower applied (so flushed) its log through <paramref name="index"/>; unanswered.</summary>
    public Task ReportAppliedAsync(IPEndPoint leader, int member, long index, CancellationToken token)
        => UseAsync(leader, async stream =>
        {
            await ForwardingProtocol.WriteFrameAsync(stream, ForwardingProtocol.EncodeAppliedReport(member, index), token).ConfigureAwait(false);
            return true;
        }, token);

    private async Task<T> UseAsync<T>(IPEndPoint leader, Func<NetworkStream, Task<T>> exchange, CancellationToken token)
    {
        try
        {
            if (_client is null || !leader.Equals(_endpoint))
            {
                Dispose();
                var client = new TcpClient(leader.AddressFamily) { NoDelay = true };
                _client = client;
                _endpoint = leader;
                await client.ConnectAsync(leader, token).ConfigureAwait(false);
            }
            return await exchange(_client.GetStream()).ConfigureAwait(false);
        }
        catch
        {
            Dispose(); // a half-used connection cannot be trusted for the next request
            throw;
        }
    }

    public void Dispose()
    {
        _client?.Dispose();
        _client = null;
        _endpoint = null;
    }
}
