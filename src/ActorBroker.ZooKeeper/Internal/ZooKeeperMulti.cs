namespace ActorBroker.ZooKeeper.Internal;

/// <summary>One operation of an atomic multi-operation transaction (<see cref="ZooKeeperClient.MultiAsync"/>).</summary>
public abstract record ZooKeeperOp(string Path)
{
    internal abstract OpCode Code { get; }

    public abstract ZooKeeperOpKind Kind { get; }

    internal abstract void WriteBody(JuteWriter w, string serverPath);

    /// <summary>Create a znode (replies with its path and stat).</summary>
    public sealed record Create(string Path, byte[] Data, CreateMode Mode) : ZooKeeperOp(Path)
    {
        internal override OpCode Code => OpCode.Create2;
        public override ZooKeeperOpKind Kind => ZooKeeperOpKind.Create;
        internal override void WriteBody(JuteWriter w, string serverPath) => Requests.WriteCreate(w, serverPath, Data, Mode);
    }

    /// <summary>Delete a znode at <paramref name="Version"/> (-1: any).</summary>
    public sealed record Delete(string Path, int Version = -1) : ZooKeeperOp(Path)
    {
        internal override OpCode Code => OpCode.Delete;
        public override ZooKeeperOpKind Kind => ZooKeeperOpKind.Delete;
        internal override void WriteBody(JuteWriter w, string serverPath) => Requests.WritePathVersion(w, serverPath, Version);
    }

    /// <summary>Replace a znode's data at <paramref name="Version"/> (-1: any).</summary>
    public sealed record SetData(string Path, byte[] Data, int Version = -1) : ZooKeeperOp(Path)
    {
        internal override OpCode Code => OpCode.SetData;
        public override ZooKeeperOpKind Kind => ZooKeeperOpKind.SetData;
        internal override void WriteBody(JuteWriter w, string serverPath) => Requests.WriteSetData(w, serverPath, Data, Version);
    }

    /// <summary>Fail the whole transaction unless the znode is at <paramref name="Version"/>.</summary>
    public sealed record Check(string Path, int Version) : ZooKeeperOp(Path)
    {
        internal override OpCode Code => OpCode.Check;
        public override ZooKeeperOpKind Kind => ZooKeeperOpKind.Check;
        internal override void WriteBody(JuteWriter w, string serverPath) => Requests.WritePathVersion(w, serverPath, Version);
    }
}

/// <summary>The result of one operation of a committed multi: the created path (create), the new stat (setData).</summary>
public sealed record ZooKeeperOpResult(ZooKeeperOpKind Op, string? Path, ZNodeStat? Stat);

/// <summary>What an operation of a multi does.</summary>
public enum ZooKeeperOpKind
{
    Create,
    Delete,
    SetData,
    Check,
}

/// <summary>Multi request/response records: each operation is preceded by a MultiHeader {type, done, err}.</summary>
internal static class MultiCodec
{
    public static void WriteRequest(JuteWriter w, IReadOnlyList<ZooKeeperOp> ops, Func<string, string> toServerPath)
    {
        foreach (var op in ops)
        {
            WriteHeader(w, (int)op.Code, done: false);
            op.WriteBody(w, toServerPath(op.Path));
        }
        WriteHeader(w, -1, done: true);
    }

    /// <summary>
    /// Reads the per-operation results. When the transaction was rolled back every result is an error result; the
    /// first one that is not Ok (later ones are RuntimeInconsistency) names the cause and the failing operation.
    /// </summary>
    public static List<ZooKeeperOpResult> ReadResponse(ref JuteReader r, IReadOnlyList<ZooKeeperOp> ops, Func<string, string> fromServerPath)
    {
        var results = new List<ZooKeeperOpResult>(ops.Count);
        (ZooKeeperErrorCode Code, int Index)? failure = null;
        while (true)
        {
            var type = (OpCode)r.ReadInt();
            var done = r.ReadBool();
            r.ReadInt(); // err of the header: repeated in the error result
            if (done) break;
            if (results.Count >= ops.Count)
                throw new ZooKeeperProtocolException($"Multi reply has more results than the [{ops.Count}] operations sent");
            switch (type)
            {
                case OpCode.Create or OpCode.Create2:
                    // Servers answer a create inside a multi with the plain CreateResponse (no stat) even when asked
                    // with create2; the stat comes only when the result says create2.
                    var path = fromServerPath(r.ReadString() ?? throw new ZooKeeperProtocolException("Create result without a path"));
                    results.Add(new ZooKeeperOpResult(ZooKeeperOpKind.Create, path, type == OpCode.Create2 ? ZNodeStat.Read(ref r) : null));
                    break;
                case OpCode.Delete:
                    results.Add(new ZooKeeperOpResult(ZooKeeperOpKind.Delete, null, null));
                    break;
                case OpCode.SetData:
                    results.Add(new ZooKeeperOpResult(ZooKeeperOpKind.SetData, null, ZNodeStat.Read(ref r)));
                    break;
                case OpCode.Check:
                    results.Add(new ZooKeeperOpResult(ZooKeeperOpKind.Check, null, null));
                    break;
                case OpCode.Error:
                    // Rolled back: operations before the failing one report Ok, those after RuntimeInconsistency.
                    var code = (ZooKeeperErrorCode)r.ReadInt();
                    if (failure is null && code != ZooKeeperErrorCode.Ok) failure = (code, results.Count);
                    results.Add(new ZooKeeperOpResult(ops[results.Count].Kind, null, null));
                    break;
                default:
                    throw new ZooKeeperProtocolException($"Unexpected result type [{(int)type}] in a multi reply");
            }
        }
        if (failure is { } f)
            throw ZooKeeperException.FromServer(f.Code, ops[f.Index].Path, $"Multi operation {f.Index} ({ops[f.Index].GetType().Name})");
        if (results.Count != ops.Count)
            throw new ZooKeeperProtocolException($"Multi reply has [{results.Count}] results for [{ops.Count}] operations");
        return results;
    }

    private static void WriteHeader(JuteWriter w, int type, bool done)
    {
        w.WriteInt(type);
        w.WriteBool(done);
        w.WriteInt(-1);
    }
}
