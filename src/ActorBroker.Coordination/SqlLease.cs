using ActorBroker.Coordination.Internal;
using Akka.Actor;
using Akka.Coordination;

namespace ActorBroker.Coordination;

/// <summary>
/// A lease whose record is a row in a shared database (PostgreSQL, or SQLite for nodes on one machine) — the successor
/// of ActiveMQ's JDBC master/slave lock row. Expiry is judged by the database clock, so node clocks never matter.
/// Config: <c>actorbroker.coordination.sql-lease</c>.
/// </summary>
public sealed class SqlLease : StoreLease<long>
{
    public SqlLease(LeaseSettings settings, ExtendedActorSystem system)
        : this(settings, system, SqlLeaseSettings.Create(settings))
    {
    }

    private SqlLease(LeaseSettings settings, ExtendedActorSystem system, SqlLeaseSettings sqlSettings)
        : base(settings, system, new SqlLeaseStore(sqlSettings, settings.LeaseName, settings.OwnerName, Incarnations.New()),
            sqlSettings.Timing)
    {
        SqlSettings = sqlSettings;
    }

    public SqlLeaseSettings SqlSettings { get; }
}
