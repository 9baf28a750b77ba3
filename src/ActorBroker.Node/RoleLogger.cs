using ActorBroker.Stomp.Transport;
using Akka.Actor;
using Akka.Event;
using Microsoft.Extensions.Logging;

namespace ActorBroker.Node;

/// <summary>
/// Logs the node's role in the words operators search for: MASTER when the STOMP listener opened
/// (the broker manager runs here), STANDBY when it closed. The listener itself is kept by
/// <see cref="StompListenerHost"/>; this actor only watches its events.
/// </summary>
/// <remarks>
/// An actor system that shuts down while this node is master (the cluster downed it) stops the listener host before
/// its close completes, so no close event comes: the STANDBY line is then logged when this actor stops.
/// </remarks>
public sealed class RoleLogger : ReceiveActor
{
    private readonly ILogger _log;
    private System.Net.IPEndPoint? _open;

    public RoleLogger(ILogger log)
    {
        _log = log;
        Receive<StompListenerOpened>(opened =>
        {
            _open = opened.EndPoint;
            log.LogInformation("MASTER: this node hosts the broker manager; STOMP listening on {Endpoint}", opened.EndPoint);
        });
        Receive<StompListenerClosed>(closed =>
        {
            _open = null;
            log.LogInformation("STANDBY: the broker manager no longer runs on this node; STOMP listener on {Endpoint} closed", closed.EndPoint);
        });
    }

    protected override void PostStop()
    {
        if (_open is { } endpoint)
            _log.LogInformation("STANDBY: the actor system is shutting down; the broker manager stops and the STOMP listener on {Endpoint} closes", endpoint);
        base.PostStop();
    }

    public static Props Props(ILogger log) => Akka.Actor.Props.Create(() => new RoleLogger(log));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(StompListenerOpened));
        Context.System.EventStream.Subscribe(Self, typeof(StompListenerClosed));
    }
}
