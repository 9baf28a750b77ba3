namespace ActorBroker.ZooKeeper;

/// <summary>ZooKeeper's error codes as sent in the reply header (values from ZooKeeper's KeeperException.Code).</summary>
public enum ZooKeeperErrorCode
{
    Ok = 0,
    SystemError = -1,
    RuntimeInconsistency = -2,
    DataInconsistency = -3,
    ConnectionLoss = -4,
    MarshallingError = -5,
    Unimplemented = -6,
    OperationTimeout = -7,
    BadArguments = -8,
    UnknownSession = -12,
    NewConfigNoQuorum = -13,
    ReconfigInProgress = -14,
    ApiError = -100,
    NoNode = -101,
    NoAuth = -102,
    BadVersion = -103,
    NoChildrenForEphemerals = -108,
    NodeExists = -110,
    NotEmpty = -111,
    SessionExpired = -112,
    InvalidCallback = -113,
    InvalidAcl = -114,
    AuthFailed = -115,
    SessionMoved = -118,
    NotReadOnly = -119,
    EphemeralOnLocalSession = -120,
    NoWatcher = -121,
    RequestTimeout = -122,
    ReconfigDisabled = -123,
    SessionClosedRequireSaslAuth = -124,
    QuotaExceeded = -125,
    ThrottledOp = -127,
}

/// <summary>An error reported by a ZooKeeper server or by this client's session; <see cref="Code"/> names the cause.</summary>
public class ZooKeeperException(ZooKeeperErrorCode code, string message, string? path = null, Exception? inner = null)
    : Exception(path is null ? $"ZooKeeper {code}: {message}" : $"ZooKeeper {code} on [{path}]: {message}", inner)
{
    public ZooKeeperErrorCode Code { get; } = code;

    /// <summary>The znode the failed operation addressed, when there was one.</summary>
    public string? Path { get; } = path;

    /// <summary>Builds the typed exception for an error code the server returned for an operation on <paramref name="path"/>.</summary>
    public static ZooKeeperException FromServer(ZooKeeperErrorCode code, string? path, string operation) => code switch
    {
        ZooKeeperErrorCode.NoNode => new NoNodeException(path, operation),
        ZooKeeperErrorCode.NodeExists => new NodeExistsException(path, operation),
        ZooKeeperErrorCode.BadVersion => new BadVersionException(path, operation),
        ZooKeeperErrorCode.NotEmpty => new NotEmptyException(path, operation),
        ZooKeeperErrorCode.SessionExpired => new SessionExpiredException($"{operation} refused: the session expired"),
        ZooKeeperErrorCode.SessionMoved => new SessionMovedException(operation),
        ZooKeeperErrorCode.ConnectionLoss => new ConnectionLossException($"{operation}: the server reported connection loss"),
        ZooKeeperErrorCode.NoAuth => new NoAuthException(path, operation),
        _ => new ZooKeeperException(code, $"{operation} failed", path),
    };
}

/// <summary>The znode does not exist (or, for create, its parent does not).</summary>
public sealed class NoNodeException(string? path, string operation)
    : ZooKeeperException(ZooKeeperErrorCode.NoNode, $"{operation}: no such node", path);

/// <summary>Create found a znode already at the path.</summary>
public sealed class NodeExistsException(string? path, string operation)
    : ZooKeeperException(ZooKeeperErrorCode.NodeExists, $"{operation}: the node already exists", path);

/// <summary>The expected version did not match the znode's version (a lost compare-and-set).</summary>
public sealed class BadVersionException(string? path, string operation)
    : ZooKeeperException(ZooKeeperErrorCode.BadVersion, $"{operation}: version mismatch", path);

/// <summary>Delete of a znode that still has children.</summary>
public sealed class NotEmptyException(string? path, string operation)
    : ZooKeeperException(ZooKeeperErrorCode.NotEmpty, $"{operation}: the node has children", path);

/// <summary>The server has no such session any more: its ephemeral nodes are gone and the client is dead.</summary>
public sealed class SessionExpiredException(string message)
    : ZooKeeperException(ZooKeeperErrorCode.SessionExpired, message);

/// <summary>The session was re-established on another connection; this one may no longer use it.</summary>
public sealed class SessionMovedException(string operation)
    : ZooKeeperException(ZooKeeperErrorCode.SessionMoved, $"{operation}: the session moved to another connection");

/// <summary>The ACL forbids the operation.</summary>
public sealed class NoAuthException(string? path, string operation)
    : ZooKeeperException(ZooKeeperErrorCode.NoAuth, $"{operation}: not authorized", path);

/// <summary>
/// The connection to the server was lost (or there was none) before the reply arrived. The operation may or
/// may not have been applied; the session itself may still be alive and the client reconnects on its own.
/// </summary>
public sealed class ConnectionLossException(string message, Exception? inner = null)
    : ZooKeeperException(ZooKeeperErrorCode.ConnectionLoss, message, inner: inner);

/// <summary>The bytes received are not valid ZooKeeper protocol (corrupt frame, absurd length, truncated record).</summary>
public sealed class ZooKeeperProtocolException(string message, Exception? inner = null)
    : ZooKeeperException(ZooKeeperErrorCode.MarshallingError, message, inner: inner);
