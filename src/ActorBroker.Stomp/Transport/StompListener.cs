using System.Net;
using ActorBroker.Core.Protocol;
using Akka.Actor;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ActorBroker.Stomp.Transport;

/// <summary>
/// A Kestrel server accepting STOMP connections on one endpoint for one broker manager. The node
/// starts it when the broker manager starts on this node and stops it when the manager stops;
/// stopping aborts every live connection (clients fail over to the next node).
/// </summary>
public sealed class StompListener : IAsyncDisposable
{
    private readonly KestrelServer _server;
    private readonly ILogger _logger;
    private int _stopped;

    private StompListener(KestrelServer server, IPEndPoint endPoint, ILogger logger)
    {
        _server = server;
        EndPoint = endPoint;
        _logger = logger;
    }

    /// <summary>The bound endpoint; with port 0 in the settings, <see cref="Port"/> is the one the OS picked.</summary>
    public IPEndPoint EndPoint { get; }

    public int Port => EndPoint.Port;

    /// <summary>Binds <see cref="StompSettings.Host"/>:<see cref="StompSettings.Port"/> and starts accepting; each connection gets a session actor talking to <paramref name="brokerManager"/>.</summary>
    public static async Task<StompListener> StartAsync(StompSettings settings, ActorSystem system, IActorRef brokerManager, ILoggerFactory loggerFactory, CancellationToken cancellationToken = default)
    {
        var handler = new StompConnectionHandler(settings, system, brokerManager, new MessageIdGenerator(system.Name), loggerFactory);
        var address = IPAddress.TryParse(settings.Host, out var ip)
            ? ip
            : (await System.Net.Dns.GetHostAddressesAsync(settings.Host, cancellationToken))[0];

        var services = new ServiceCollection().AddSingleton(loggerFactory).BuildServiceProvider();
        var options = new KestrelServerOptions { ApplicationServices = services, AddServerHeader = false };
        ListenOptions? listenOptions = null;
        options.Listen(address, settings.Port, listen =>
        {
            listenOptions = listen;
            listen.Run(handler.OnConnectedAsync);
        });

        var transport = new SocketTransportFactory(Options.Create(new SocketTransportOptions()), loggerFactory);
        var server = new KestrelServer(Options.Create(options), transport, loggerFactory);
        await server.StartAsync(new NoHttpApplication(), cancellationToken);

        var bound = listenOptions!.IPEndPoint ?? new IPEndPoint(address, settings.Port);
        var logger = loggerFactory.CreateLogger("ActorBroker.Stomp");
        StompLog.ListenerStarted(logger, bound.ToString());
        return new StompListener(server, bound, logger);
    }

    /// <summary>Stops accepting and aborts live connections at once (no graceful drain: a standby must not keep clients).</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
            return;
        await _server.StopAsync(new CancellationToken(canceled: true));
        _server.Dispose();
        StompLog.ListenerStopped(_logger, EndPoint.ToString());
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>Kestrel wants an HTTP application even when every endpoint runs its own connection pipeline.</summary>
    private sealed class NoHttpApplication : IHttpApplication<object>
    {
        public object CreateContext(IFeatureCollection contextFeatures) => new();

        public Task ProcessRequestAsync(object context) => Task.CompletedTask;

        public void DisposeContext(object context, Exception? exception)
        {
        }
    }
}
