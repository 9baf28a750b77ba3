using ActorBroker.Coordination.Internal;
using Akka.Actor;
using Akka.Coordination;

namespace ActorBroker.Coordination;

/// <summary>
/// A lease whose record lives in a directory that several nodes (machines) share — the successor of ActiveMQ's shared
/// file system master/slave lock, minus the reliance on OS locks being released when a holder dies: a holder that stops
/// heart-beating loses the lease after the TTL. Config: <c>actorbroker.coordination.file-lease</c>.
/// </summary>
public sealed class FileLease : StoreLease<long>
{
    public FileLease(LeaseSettings settings, ExtendedActorSystem system)
        : this(settings, system, FileLeaseSettings.Create(settings))
    {
    }

    private FileLease(LeaseSettings settings, ExtendedActorSystem system, FileLeaseSettings fileSettings)
        : base(settings, system, new FileLeaseStore(fileSettings, settings.LeaseName, settings.OwnerName, Incarnations.New()),
            fileSettings.Timing)
    {
        FileSettings = fileSettings;
    }

    public FileLeaseSettings FileSettings { get; }
}
