using ActorBroker.Coordination;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using ActorBroker.Persistence.File.Internal;
using Akka.Configuration;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Snapshot;

namespace ActorBroker.Persistence.File;

/// <summary>
/// Snapshot store: one file per (persistence id, sequence number) under a subdirectory per persistence id,
/// published atomically (write temp, fsync, rename) and checksummed; a corrupt file is skipped and the next older
/// snapshot is used. File layout: <c>u8 version | u32 crc32c | i64 timestamp ticks | i32 serializer id |
/// u16+utf8 manifest | payload</c>, checksum over everything after it.
/// </summary>
public sealed class FileSnapshotStore : SnapshotStore
{
    private const byte Version = 1;
    private const string Extension = ".snap";
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly ILoggingAdapter _logger = Context.GetLogger();

    public FileSnapshotStore() : this(Context.System.Settings.Config.GetConfig(FileSnapshotStoreSettings.ConfigPath)) { }

    public FileSnapshotStore(Config config)
    {
        Settings = FileSnapshotStoreSettings.Create(config);
        _serialization = Context.System.Serialization;
    }

    public FileSnapshotStoreSettings Settings { get; }

    protected override Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) =>
        Task.Run(() =>
        {
            foreach (var (seq, path) in Candidates(persistenceId, criteria).OrderByDescending(c => c.SequenceNr))
            {
                var loaded = TryRead(path);
                if (loaded is not { } snapshot) continue;
                if (snapshot.Timestamp > criteria.MaxTimeStamp || snapshot.Timestamp < (criteria.MinTimestamp ?? DateTime.MinValue)) continue;
                var payload = _serialization.Deserialize(snapshot.Payload, snapshot.SerializerId, snapshot.Manifest);
                return new SelectedSnapshot(new SnapshotMetadata(persistenceId, seq, snapshot.Timestamp), payload);
            }
            return (SelectedSnapshot?)null;
        }, cancellationToken);

    protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        // Serialize on the caller so a non-serializable snapshot fails this save only.
        var serializer = _serialization.FindSerializerFor(snapshot);
        var payload = serializer.ToBinary(snapshot);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, snapshot);
        return Task.Run(() =>
        {
            var body = new GrowableBuffer(payload.Length + 64);
            body.WriteInt64(metadata.Timestamp.Ticks);
            body.WriteInt32(serializer.Identifier);
            body.WriteString16(manifest);
            body.Write(payload);
            var bytes = new byte[5 + body.Length];
            bytes[0] = Version;
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(1), Crc32C.Compute(body.WrittenSpan));
            body.WrittenSpan.CopyTo(bytes.AsSpan(5));
            var directory = DirectoryOf(metadata.PersistenceId);
            if (!Directory.Exists(directory))
            {
                StoreDirectory.EnsureExists(Settings.Directory);
                StoreDirectory.EnsureExists(directory);
                if (Settings.Fsync) DirectorySync.Flush(Settings.Directory);
            }
            AtomicFile.Write(Path.Combine(directory, FileName(metadata.SequenceNr)), bytes, Settings.Fsync);
        }, cancellationToken);
    }

    protected override Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken) =>
        Task.Run(() =>
        {
            var path = Path.Combine(DirectoryOf(metadata.PersistenceId), FileName(metadata.SequenceNr));
            if (metadata.Timestamp != DateTime.MinValue && TryRead(path) is { } stored && stored.Timestamp != metadata.Timestamp)
                return; // a different snapshot now holds that sequence number
            System.IO.File.Delete(path);
        }, cancellationToken);

    protected override Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) =>
        Task.Run(() =>
        {
            foreach (var (_, path) in Candidates(persistenceId, criteria))
            {
                if (criteria.MaxTimeStamp != DateTime.MaxValue || criteria.MinTimestamp is not null)
                {
                    if (TryRead(path) is not { } stored) continue;
                    if (stored.Timestamp > criteria.MaxTimeStamp || stored.Timestamp < (criteria.MinTimestamp ?? DateTime.MinValue)) continue;
                }
                System.IO.File.Delete(path);
            }
        }, cancellationToken);

    private IEnumerable<(long SequenceNr, string Path)> Candidates(string persistenceId, SnapshotSelectionCriteria criteria)
    {
        var directory = DirectoryOf(persistenceId);
        if (!Directory.Exists(directory)) yield break;
        foreach (var path in Directory.EnumerateFiles(directory, "*" + Extension))
            if (long.TryParse(Path.GetFileNameWithoutExtension(path), out var seq) &&
                seq <= criteria.MaxSequenceNr && seq >= criteria.MinSequenceNr)
                yield return (seq, path);
    }

    private (DateTime Timestamp, int SerializerId, string Manifest, byte[] Payload)? TryRead(string path)
    {
        byte[] bytes;
        try { bytes = System.IO.File.ReadAllBytes(path); }
        catch (FileNotFoundException) { return null; }
        if (bytes.Length < 5 + 14 || bytes[0] != Version ||
            Crc32C.Compute(bytes.AsSpan(5)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(1)))
        {
            _logger.Warning("Snapshot file [{0}] is corrupt (bad version byte or checksum); skipped", path);
            return null;
        }
        var span = bytes.AsSpan(5);
        var timestamp = new DateTime(BinaryPrimitives.ReadInt64LittleEndian(span), DateTimeKind.Utc);
        var serializerId = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
        int manifestLength = BinaryPrimitives.ReadUInt16LittleEndian(span[12..]);
        var manifest = Encoding.UTF8.GetString(span.Slice(14, manifestLength));
        return (timestamp, serializerId, manifest, span[(14 + manifestLength)..].ToArray());
    }

    private static string FileName(long sequenceNr) => $"{sequenceNr:D19}{Extension}";

    /// <summary>"p-" + escaped id keeps ids like "." or "a/b" safe; very long ids fall back to a hash.</summary>
    private string DirectoryOf(string persistenceId)
    {
        var escaped = "p-" + Uri.EscapeDataString(persistenceId);
        if (escaped.Length > 200)
            escaped = "h-" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(persistenceId)));
        return Path.Combine(Settings.Directory, escaped);
    }
}
