using System.Net;
using System.Net.Sockets;

namespace ActorBroker.Testing;

/// <summary>
/// A loopback TCP proxy in front of one server that can fail the link on demand, to test what a client does when
/// its server becomes unreachable without stopping the server (which other clients still use):
/// <see cref="Freeze"/> stops forwarding bytes but keeps the sockets open (a frozen peer or a black-holed
/// network), <see cref="Cut"/> closes every link and refuses new ones, <see cref="Restore"/> forwards again.
/// </summary>
public sealed class TcpFaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _lock = new();
    private readonly List<(Socket Client, Socket Server)> _links = [];
    private readonly Task _acceptLoop;
    private TaskCompletionSource _flowing = NewGate(open: true);
    private bool _cut;

    public TcpFaultProxy(int targetPort)
    {
        _target = new IPEndPoint(IPAddress.Loopback, targetPort);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    /// <summary>"127.0.0.1:port" of the proxy.</summary>
    public string ConnectString => $"127.0.0.1:{Port}";

    /// <summary>Stop forwarding in both directions; connections stay open and silent.</summary>
    public void Freeze()
    {
        lock (_lock) if (_flowing.Task.IsCompleted) _flowing = NewGate(open: false);
    }

    /// <summary>Close every link and refuse new connections until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        lock (_lock)
        {
            _cut = true;
            foreach (var (client, server) in _links) { client.Dispose(); server.Dispose(); }
            _links.Clear();
        }
    }

    /// <summary>Forward and accept again.</summary>
    public void Restore()
    {
        lock (_lock)
        {
            _cut = false;
            _flowing.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Restore();
        Cut();
        try { await _acceptLoop; } catch (Exception) { /* listener stopped */ }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_stop.Token);
            bool refuse;
            lock (_lock) refuse = _cut;
            if (refuse) { client.Dispose(); continue; }
            var server = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await server.ConnectAsync(_target, _stop.Token);
            }
            catch (SocketException)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }
            lock (_lock) _links.Add((client, server));
            _ = PumpAsync(client, server);
            _ = PumpAsync(server, client);
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, _stop.Token);
                if (read == 0) break;
                Task gate;
                lock (_lock) gate = _flowing.Task;
                await gate.WaitAsync(_stop.Token);
                await to.SendAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        from.Dispose();
        to.Dispose();
    }

    private static TaskCompletionSource NewGate(bool open)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (open) gate.SetResult();
        return gate;
    }
}
