using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace ActorBroker.Testing;

/// <summary>A frame as the test client read it: command, unescaped headers in wire order, body bytes.</summary>
public sealed record StompTestFrame(string Command, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[] Body)
{
    /// <summary>The first header of that name (STOMP: first wins), or null.</summary>
    public string? this[string name] => Headers.FirstOrDefault(h => h.Key == name).Value;

    public string BodyText => Encoding.UTF8.GetString(Body);

    public override string ToString() =>
        $"{Command} {{{string.Join(", ", Headers.Select(h => h.Key + ":" + h.Value))}}} body[{Body.Length}] {(Body.Length <= 200 ? BodyText : string.Empty)}";
}

/// <summary>
/// A deliberately small STOMP client over a raw TCP socket, with its own parser (independent of the
/// server's codec), for tests that must see exactly what is on the wire: it can send malformed bytes,
/// counts heart-beat EOLs, and tells whether the server closed the connection. Not thread-safe.
/// </summary>
public sealed class StompTestClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private Task<int>? _pendingRead;
    private bool _closedByServer;
    private long _receipts;

    private StompTestClient(TcpClient tcp)
    {
        _tcp = tcp;
        _tcp.NoDelay = true;
        _stream = tcp.GetStream();
    }

    /// <summary>Heart-beat EOLs received between frames so far.</summary>
    public int HeartBeatsReceived { get; private set; }

    /// <summary>Opens a TCP connection; send CONNECT yourself, or use <see cref="ConnectStompAsync"/>.</summary>
    public static async Task<StompTestClient> ConnectAsync(string host, int port, TimeSpan? timeout = null)
    {
        var tcp = new TcpClient();
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await tcp.ConnectAsync(host, port, cts.Token);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }

        return new StompTestClient(tcp);
    }

    /// <summary>Connects, sends CONNECT (accept-version 1.2, host, extra headers) and waits for CONNECTED; throws on ERROR.</summary>
    public static async Task<(StompTestClient Client, StompTestFrame Connected)> ConnectStompAsync(
        string host, int port, IEnumerable<KeyValuePair<string, string>>? headers = null, TimeSpan? timeout = null)
    {
        var client = await ConnectAsync(host, port, timeout);
        var all = new List<KeyValuePair<string, string>> { new("accept-version", "1.2"), new("host", host) };
        if (headers is not null)
            all.AddRange(headers);
        await client.SendFrameAsync("CONNECT", all);
        var connected = await client.ReceiveFrameAsync(timeout);
        if (connected.Command != "CONNECTED")
        {
            await client.DisposeAsync();
            throw new InvalidOperationException($"expected CONNECTED, got {connected}");
        }

        return (client, connected);
    }

    /// <summary>Sends one well-formed frame. Headers are escaped unless the command is CONNECT/STOMP; content-length is added when there is a body.</summary>
    public Task SendFrameAsync(string command, IEnumerable<KeyValuePair<string, string>>? headers = null, byte[]? body = null) =>
        SendRawAsync(Encode(command, headers, body));

    public Task SendFrameAsync(string command, IEnumerable<KeyValuePair<string, string>>? headers, string body) =>
        SendFrameAsync(command, headers, Encoding.UTF8.GetBytes(body));

    /// <summary>Header list shorthand: <c>H("destination", "/queue/a", "receipt", "r1")</c>.</summary>
    public static KeyValuePair<string, string>[] H(params string[] namesAndValues)
    {
        if (namesAndValues.Length % 2 != 0)
            throw new ArgumentException("names and values must pair up", nameof(namesAndValues));
        return Enumerable.Range(0, namesAndValues.Length / 2)
            .Select(i => new KeyValuePair<string, string>(namesAndValues[2 * i], namesAndValues[2 * i + 1]))
            .ToArray();
    }

    /// <summary>The wire bytes of a frame as this client encodes it.</summary>
    public static byte[] Encode(string command, IEnumerable<KeyValuePair<string, string>>? headers = null, byte[]? body = null)
    {
        var escape = command is not ("CONNECT" or "STOMP");
        var text = new StringBuilder(command).Append('\n');
        foreach (var (name, value) in headers ?? [])
            text.Append(escape ? Escape(name) : name).Append(':').Append(escape ? Escape(value) : value).Append('\n');
        if (body is { Length: > 0 })
            text.Append("content-length:").Append(body.Length.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append('\n');
        var head = Encoding.UTF8.GetBytes(text.ToString());
        var bytes = new byte[head.Length + (body?.Length ?? 0) + 1];
        head.CopyTo(bytes, 0);
        body?.CopyTo(bytes, head.Length);
        return bytes;
    }

    public async Task SendRawAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    public Task SendRawAsync(string text) => SendRawAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// Sends a frame with a fresh receipt header and waits for its RECEIPT (the broker's durability
    /// promise for SEND). Throws <see cref="InvalidOperationException"/> carrying the frame when the
    /// server answers anything else, e.g. ERROR.
    /// </summary>
    public async Task<StompTestFrame> SendAndAwaitReceiptAsync(string command, IEnumerable<KeyValuePair<string, string>>? headers = null, byte[]? body = null, TimeSpan? timeout = null)
    {
        var receiptId = "receipt-" + Interlocked.Increment(ref _receipts).ToString(CultureInfo.InvariantCulture);
        await SendFrameAsync(command, (headers ?? []).Append(new("receipt", receiptId)), body);
        var frame = await ReceiveFrameAsync(timeout);
        if (frame.Command != "RECEIPT" || frame["receipt-id"] != receiptId)
            throw new InvalidOperationException($"expected RECEIPT {receiptId}, got {frame}");
        return frame;
    }

    /// <summary>Graceful STOMP close: DISCONNECT with a receipt, wait for it, then for the server to close.</summary>
    public async Task DisconnectAsync(TimeSpan? timeout = null)
    {
        await SendAndAwaitReceiptAsync("DISCONNECT", timeout: timeout);
        if (!await WaitForCloseAsync(timeout))
            throw new TimeoutException("the server did not close the connection after DISCONNECT's receipt");
    }

    /// <summary>The next frame; throws <see cref="TimeoutException"/> when none arrives in time, <see cref="IOException"/> when the server closed first.</summary>
    public async Task<StompTestFrame> ReceiveFrameAsync(TimeSpan? timeout = null)
    {
        var frame = await TryReceiveFrameAsync(timeout ?? DefaultTimeout);
        return frame ?? throw new TimeoutException($"no STOMP frame within {timeout ?? DefaultTimeout}");
    }

    /// <summary>The next frame, or null when none arrives within <paramref name="within"/> (use to assert "nothing yet").</summary>
    public async Task<StompTestFrame?> TryReceiveFrameAsync(TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            if (TryParse(out var frame))
                return frame;
            if (_closedByServer)
                throw new IOException("the server closed the connection before a complete frame");
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await ReadMoreAsync(left))
                return null;
        }
    }

    /// <summary>Waits until the server closes the connection, keeping frames that arrive meanwhile for later receives. True when closed in time.</summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!_closedByServer)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await ReadMoreAsync(left))
                return _closedByServer;
        }

        return true;
    }

    /// <summary>Reads once into the buffer; false on timeout. One read stays outstanding across timeouts so no byte is lost.</summary>
    private async Task<bool> ReadMoreAsync(TimeSpan timeout)
    {
        if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            else
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
        }

        _pendingRead ??= ReadIntoBufferAsync();
        var read = _pendingRead;
        if (await Task.WhenAny(read, Task.Delay(timeout)) != read)
            return false;
        _pendingRead = null;

        int count;
        try
        {
            count = await read;
        }
        catch (IOException)
        {
            count = 0; // reset by the server counts as closed
        }

        if (count == 0)
            _closedByServer = true;
        else
            _end += count;
        return true;
    }

    private Task<int> ReadIntoBufferAsync() => _stream.ReadAsync(_buffer, _end, _buffer.Length - _end);

    /// <summary>Parses one frame from the buffer, skipping heart-beat EOLs; false when incomplete.</summary>
    private bool TryParse(out StompTestFrame frame)
    {
        frame = null!;
        while (_start < _end && (_buffer[_start] == '\n' || (_buffer[_start] == '\r' && _start + 1 < _end && _buffer[_start + 1] == '\n')))
        {
            _start += _buffer[_start] == '\r' ? 2 : 1;
            HeartBeatsReceived++;
        }

        var position = _start;
        var lines = new List<string>();
        while (true)
        {
            var lf = Array.IndexOf(_buffer, (byte)'\n', position, _end - position);
            if (lf < 0)
                return false;
            var length = lf - position;
            if (length > 0 && _buffer[lf - 1] == '\r')
                length--;
            var line = Encoding.UTF8.GetString(_buffer, position, length);
            position = lf + 1;
            if (line.Length == 0)
                break;
            lines.Add(line);
        }

        var command = lines[0];
        var unescape = command != "CONNECTED";
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            headers.Add(new(Unescape(line[..colon], unescape), Unescape(line[(colon + 1)..], unescape)));
        }

        int bodyLength;
        var contentLength = headers.FirstOrDefault(h => h.Key == "content-length").Value;
        if (contentLength is not null)
        {
            bodyLength = int.Parse(contentLength, CultureInfo.InvariantCulture);
            if (_end - position < bodyLength + 1)
                return false;
            if (_buffer[position + bodyLength] != 0)
                throw new InvalidDataException("content-length body not followed by NUL");
        }
        else
        {
            var nul = Array.IndexOf(_buffer, (byte)0, position, _end - position);
            if (nul < 0)
                return false;
            bodyLength = nul - position;
        }

        frame = new StompTestFrame(command, headers, _buffer.AsSpan(position, bodyLength).ToArray());
        _start = position + bodyLength + 1;
        return true;
    }

    private static string Escape(string text) =>
        text.Replace("\\", "\\\\").Replace("\r", "\\r").Replace("\n", "\\n").Replace(":", "\\c");

    private static string Unescape(string text, bool unescape)
    {
        if (!unescape || !text.Contains('\\'))
            return text;
        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\' || i + 1 == text.Length)
            {
                result.Append(text[i]);
                continue;
            }

            result.Append(text[++i] switch { 'r' => '\r', 'n' => '\n', 'c' => ':', _ => text[i] });
        }

        return result.ToString();
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
