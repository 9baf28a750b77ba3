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
public sealed class RoleLogger : ReceiveActor
{
    public RoleLogger(ILogger log)
    {
        Receive<StompListenerOpened>(opened =>
            log.LogInformation("MASTER: this node hosts the broker manager; STOMP listening on {Endpoint}", opened.EndPoint));
        Receive<StompListenerClosed>(closed =>
            log.LogInformation("STANDBY: the broker manager no longer runs on this node; STOMP listener on {Endpoint} closed", closed.EndPoint));
    }

    public static Props Props(ILogger log) => Akka.Actor.Props.Create(() => new RoleLogger(log));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(StompListenerOpened));
        Context.System.EventStream.Subscribe(Self, typeof(StompListenerClosed));
    }
}
