namespace ActorBroker.ZooKeeper.Internal;

/// <summary>Request types of the client protocol (ZooKeeper's ZooDefs.OpCode).</summary>
internal enum OpCode
{
    Create = 1,
    Delete = 2,
    Exists = 3,
    GetData = 4,
    SetData = 5,
    GetChildren = 8,
    Ping = 11,
    GetChildren2 = 12,
    Check = 13,
    Multi = 14,
    Create2 = 15,
    SetWatches = 101,
    CloseSession = -11,
    /// <summary>Marks a failed operation's result inside a multi reply.</summary>
    Error = -1,
}

/// <summary>Reserved xids: replies carrying them are not answers to a numbered request.</summary>
internal static class Xids
{
    public const int WatchNotification = -1;
    public const int Ping = -2;
    public const int SetWatches = -8;
}

/// <summary>How a znode is created: the flags field of CreateRequest.</summary>
public enum CreateMode
{
    Persistent = 0,
    Ephemeral = 1,
    PersistentSequential = 2,
    EphemeralSequential = 3,
}

/// <summary>What a watch notification reports (ZooKeeper's Watcher.Event.EventType).</summary>
public enum WatchEventType
{
    None = -1,
    NodeCreated = 1,
    NodeDeleted = 2,
    NodeDataChanged = 3,
    NodeChildrenChanged = 4,
}

/// <summary>A one-shot watch firing, delivered to the watcher given with exists/getData/getChildren.</summary>
public sealed record WatchedEvent(WatchEventType Type, string Path);

/// <summary>The client's view of its session.</summary>
public enum ZooKeeperConnectionState
{
    /// <summary>First connection attempt in progress.</summary>
    Connecting,
    /// <summary>Connected to a server; the session is alive.</summary>
    Connected,
    /// <summary>Connection lost; the client is trying the servers of the connect string to resume the same session.</summary>
    Disconnected,
    /// <summary>A server said the session no longer exists. Terminal: ephemeral nodes are gone.</summary>
    Expired,
    /// <summary>Closed by the application. Terminal.</summary>
    Closed,
}

/// <summary>A znode's metadata (jute record org.apache.zookeeper.data.Stat).</summary>
public sealed record ZNodeStat(
    long Czxid, long Mzxid, long Ctime, long Mtime, int Version, int Cversion, int Aversion,
    long EphemeralOwner, int DataLength, int NumChildren, long Pzxid)
{
    internal static ZNodeStat Read(ref JuteReader reader) => new(
        reader.ReadLong(), reader.ReadLong(), reader.ReadLong(), reader.ReadLong(),
        reader.ReadInt(), reader.ReadInt(), reader.ReadInt(),
        reader.ReadLong(), reader.ReadInt(), reader.ReadInt(), reader.ReadLong());
}

/// <summary>The server's answer to the session handshake.</summary>
internal sealed record ConnectResponse(int ProtocolVersion, TimeSpan NegotiatedTimeout, long SessionId, byte[] Password)
{
    /// <summary>
    /// The server answers a resumption attempt of an unknown or expired session with a zero timeout;
    /// that is how a client learns its session expired.
    /// </summary>
    public bool SessionExpired => NegotiatedTimeout <= TimeSpan.Zero;

    public static ConnectResponse Read(ref JuteReader reader)
    {
        var protocolVersion = reader.ReadInt();
        var timeoutMs = reader.ReadInt();
        var sessionId = reader.ReadLong();
        var password = reader.ReadBuffer() ?? [];
        // A trailing "readOnly" boolean follows from servers since 3.4; nothing here depends on it.
        return new ConnectResponse(protocolVersion, TimeSpan.FromMilliseconds(timeoutMs), sessionId, password);
    }
}

/// <summary>Writers of the request records (jute module org.apache.zookeeper.proto).</summary>
internal static class Requests
{
    public const int ProtocolVersion = 0;

    public static void WriteConnect(JuteWriter w, long lastZxidSeen, TimeSpan sessionTimeout, long sessionId, byte[] password)
    {
        w.WriteInt(ProtocolVersion);
        w.WriteLong(lastZxidSeen);
        w.WriteInt((int)sessionTimeout.TotalMilliseconds);
        w.WriteLong(sessionId);
        w.WriteBuffer(password);
        w.WriteBool(false); // readOnly: this client only wants a server that is part of a quorum
    }

    public static void WriteHeader(JuteWriter w, int xid, OpCode op)
    {
        w.WriteInt(xid);
        w.WriteInt((int)op);
    }

    public static void WriteCreate(JuteWriter w, string path, ReadOnlySpan<byte> data, CreateMode mode)
    {
        w.WriteString(path);
        w.WriteBuffer(data);
        w.WriteOpenAclUnsafe();
        w.WriteInt((int)mode);
    }

    public static void WritePathVersion(JuteWriter w, string path, int version)
    {
        w.WriteString(path);
        w.WriteInt(version);
    }

    public static void WritePathWatch(JuteWriter w, string path, bool watch)
    {
        w.WriteString(path);
        w.WriteBool(watch);
    }

    public static void WriteSetData(JuteWriter w, string path, ReadOnlySpan<byte> data, int version)
    {
        w.WriteString(path);
        w.WriteBuffer(data);
        w.WriteInt(version);
    }

    public static void WriteSetWatches(JuteWriter w, long relativeZxid, WatchPaths paths)
    {
        w.WriteLong(relativeZxid);
        w.WriteStringVector(paths.Data);
        w.WriteStringVector(paths.Exist);
        w.WriteStringVector(paths.Child);
    }
}

/// <summary>The reply header every non-handshake packet from the server starts with.</summary>
internal readonly record struct ReplyHeader(int Xid, long Zxid, ZooKeeperErrorCode Err)
{
    public static ReplyHeader Read(ref JuteReader reader) =>
        new(reader.ReadInt(), reader.ReadLong(), (ZooKeeperErrorCode)reader.ReadInt());
}
