using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Akka.Coordination;

namespace ActorBroker.Coordination.Internal;

/// <summary>
/// Lease records as files in a directory that may be shared between machines. The version is a revision counter in
/// the record. A conditional write is: take <c>NAME.lock</c> (created with O_EXCL, held only for this read-modify-write),
/// re-read the record, check the condition, write <c>NAME.lease.*.tmp</c>, fsync, rename it over <c>NAME.lease</c>
/// (atomic: readers see the old or the new record, never a torn one), delete the lock.
/// </summary>
/// <remarks>
/// Nothing relies on a lock being released when its process dies: a lock file older than <c>lock-stale-after</c> is
/// broken (renamed away, then checked so a fresh lock taken meanwhile is put back), and a writer re-checks that its lock
/// is still its own, and young, right before the rename. Expiry is judged by the record's heart-beat time (the writer's
/// wall clock) against the reader's wall clock plus <c>max-clock-skew</c>. Deleting a record file by hand resets the
/// epoch to 0: don't.
/// </remarks>
internal sealed class FileLeaseStore : ILeaseStore<long>
{
    private const string RecordSuffix = ".lease";
    private readonly FileLeaseSettings _settings;
    private readonly string _recordPath;
    private readonly string _lockPath;
    private readonly long _ttlMs;

    public FileLeaseStore(FileLeaseSettings settings, string leaseName, string owner, string incarnation)
    {
        _settings = settings;
        Owner = owner;
        Incarnation = incarnation;
        var fileName = FileNameFor(leaseName);
        _recordPath = Path.Combine(settings.Directory, fileName + RecordSuffix);
        _lockPath = Path.Combine(settings.Directory, fileName + ".lock");
        _ttlMs = (long)(settings.Timing.HeartbeatTimeout + settings.MaxClockSkew).TotalMilliseconds;
    }

    public string Owner { get; }

    public string Incarnation { get; }

    public Task<LeaseRecord<long>> ReadAsync(CancellationToken cancellationToken) => Task.FromResult(ToRecord(ReadFile()));

    public Task<CasResult<long>> TryAcquireAsync(LeaseRecord<long> seen, CancellationToken cancellationToken) =>
        UnderLockAsync(current =>
        {
            var record = ToRecord(current);
            if (record.Version != seen.Version || !(record.IsFree || record.IsExpired || seen.IsExpired || record.IsHeldBy(Owner, Incarnation)))
                return (null, CasResult<long>.Conflict(record));
            var next = new FileRecord(Owner, Incarnation, current.Epoch + 1, current.Revision + 1, NowMs());
            return (next, CasResult<long>.Success(ToRecord(next)));
        }, cancellationToken);

    public Task<CasResult<long>> HeartbeatAsync(LeaseRecord<long> held, CancellationToken cancellationToken) =>
        UnderLockAsync(current =>
        {
            var record = ToRecord(current);
            if (!record.IsSameHold(held)) return (null, CasResult<long>.Conflict(record));
            var next = current with { Revision = current.Revision + 1, HeartbeatUnixMs = NowMs() };
            return (next, CasResult<long>.Success(ToRecord(next)));
        }, cancellationToken);

    public async Task<bool> ReleaseAsync(LeaseRecord<long> held, CancellationToken cancellationToken) =>
        (await UnderLockAsync(current =>
        {
            var record = ToRecord(current);
            if (!record.IsSameHold(held)) return (null, CasResult<long>.Conflict(record));
            // The epoch stays: the next acquisition continues from it.
            var next = new FileRecord(null, null, current.Epoch, current.Revision + 1, 0);
            return (next, CasResult<long>.Success(ToRecord(next)));
        }, cancellationToken)).Succeeded;

    private async Task<CasResult<long>> UnderLockAsync(
        Func<FileRecord, (FileRecord? Write, CasResult<long> Result)> decide, CancellationToken cancellationToken)
    {
        var token = await LockAsync(cancellationToken);
        var lockedAt = Stopwatch.GetTimestamp();
        try
        {
            var (write, result) = decide(ReadFile());
            if (write is not null) Commit(write, token, lockedAt);
            return result;
        }
        finally
        {
            Unlock(token);
        }
    }

    private async Task<string> LockAsync(CancellationToken cancellationToken)
    {
        var token = $"{Owner} {Incarnation} {Guid.NewGuid():N}";
        var bytes = Encoding.UTF8.GetBytes(token);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                using var stream = new FileStream(_lockPath, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
                stream.Write(bytes);
                return token;
            }
            catch (IOException) when (File.Exists(_lockPath))
            {
                BreakIfStale();
            }
            catch (IOException e)
            {
                throw Unreachable(e);
            }
            catch (UnauthorizedAccessException e)
            {
                throw Unreachable(e);
            }

            await Task.Delay(Random.Shared.Next(1, 5), cancellationToken);
        }
    }

    private void BreakIfStale()
    {
        string examined;
        DateTime writtenAt;
        try
        {
            examined = File.ReadAllText(_lockPath);
            writtenAt = File.GetLastWriteTimeUtc(_lockPath);
        }
        catch (IOException)
        {
            return; // released meanwhile
        }

        if (DateTime.UtcNow - writtenAt <= _settings.LockStaleAfter + _settings.MaxClockSkew) return;

        var brokenPath = $"{_lockPath}.{Guid.NewGuid():N}.stale";
        try
        {
            File.Move(_lockPath, brokenPath, overwrite: false);
        }
        catch (IOException)
        {
            return; // someone else broke or released it first
        }

        // Between our look and the rename, the stale lock may have been broken and a fresh one taken: put that one back.
        if (File.ReadAllText(brokenPath) != examined)
        {
            try
            {
                File.Move(brokenPath, _lockPath, overwrite: false);
                return;
            }
            catch (IOException)
            {
                // A newer lock exists already; the writer we disturbed notices at its commit check and aborts.
            }
        }

        File.Delete(brokenPath);
    }

    private void Commit(FileRecord record, string token, long lockedAt)
    {
        var tempPath = $"{_recordPath}.{Incarnation}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(JsonSerializer.SerializeToUtf8Bytes(record));
                stream.Flush(flushToDisk: true);
            }

            // Last check before the point of no return: our lock is still ours and too young to have been broken.
            if (Stopwatch.GetElapsedTime(lockedAt) > _settings.LockStaleAfter / 2 || ReadLockToken() != token)
                throw new LeaseException($"Lease file [{_recordPath}]: our lock was held too long or broken; write abandoned");

            File.Move(tempPath, _recordPath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unreachable(e);
        }
        finally
        {
            TryDelete(tempPath);
        }
    }

    private void Unlock(string token)
    {
        if (ReadLockToken() == token) TryDelete(_lockPath);
    }

    private string? ReadLockToken()
    {
        try
        {
            return File.ReadAllText(_lockPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private FileRecord ReadFile()
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(_recordPath);
        }
        catch (FileNotFoundException) when (Directory.Exists(_settings.Directory))
        {
            return FileRecord.Never;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unreachable(e);
        }

        try
        {
            return JsonSerializer.Deserialize<FileRecord>(bytes) ?? throw new JsonException("null record");
        }
        catch (JsonException e)
        {
            throw new LeaseException($"Lease file [{_recordPath}] is corrupt: {e.Message}", e);
        }
    }

    private LeaseRecord<long> ToRecord(FileRecord file) => new(
        file.Owner, file.Incarnation, file.Epoch, file.Revision,
        IsExpired: file.Owner is not null && NowMs() >= file.HeartbeatUnixMs + _ttlMs);

    private LeaseException Unreachable(Exception cause) =>
        new($"Lease directory [{_settings.Directory}] is unreachable or unwritable: {cause.Message}", cause);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Directory gone (outage): nothing to clean up there.
        }
    }

    private static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>A readable, collision-free file name for a lease name (singleton lease names contain '/', '@', ':').</summary>
    private static string FileNameFor(string leaseName)
    {
        var readable = new string(leaseName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').Take(80).ToArray());
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(leaseName)))[..12];
        return $"{readable}-{hash}";
    }

    /// <summary>The record file's content. <c>HeartbeatUnixMs</c> is the writer's wall clock at its last heartbeat.</summary>
    private sealed record FileRecord(string? Owner, string? Incarnation, long Epoch, long Revision, long HeartbeatUnixMs)
    {
        public static readonly FileRecord Never = new(null, null, 0, 0, 0);
    }
}
