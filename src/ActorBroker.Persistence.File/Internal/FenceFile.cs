using ActorBroker.Coordination;
using System.Buffers.Binary;
using System.Text;

namespace ActorBroker.Persistence.File.Internal;

/// <summary>
/// The fence: the highest writer epoch of a journal directory plus, for every segment written under an older
/// epoch, the length up to which it is history ("sealed length"). Bytes a stale writer appends past a seal, and
/// segments a stale writer creates after the fence moved, are never replayed.
/// </summary>
/// <remarks>
/// Stored as <c>fence</c> in the journal directory, replaced atomically (write temp, fsync, rename), with a
/// version byte and CRC32C. Taking over is two writes: first the new epoch alone (from then on every stale
/// append fails its post-write fence check), then the seals measured after that, so any stale append that was
/// acknowledged lies below its seal. See docs/journal-format.md.
/// </remarks>
internal sealed record Fence(long Epoch, IReadOnlyDictionary<string, long> SealedLengths)
{
    public const string FileName = "fence";
    private const byte Version = 1;

    public static readonly Fence None = new(-1, new Dictionary<string, long>());

    /// <summary>Reads the fence; <see cref="None"/> when absent. A corrupt fence is an error, never ignored.</summary>
    public static Fence Read(string directory)
    {
        var path = Path.Combine(directory, FileName);
        byte[] bytes;
        try { bytes = System.IO.File.ReadAllBytes(path); }
        catch (FileNotFoundException) { return None; }
        catch (DirectoryNotFoundException) { return None; } // nothing written yet (a writer's TakeOver checks the directory)

        if (bytes.Length < 5 || bytes[0] != Version ||
            Crc32C.Compute(bytes.AsSpan(5)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(1)))
            throw new InvalidDataException($"Journal fence file [{path}] is corrupt (bad version byte or checksum)");

        var span = bytes.AsSpan(5);
        var epoch = BinaryPrimitives.ReadInt64LittleEndian(span);
        var count = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
        var pos = 12;
        var seals = new Dictionary<string, long>(count);
        for (var i = 0; i < count; i++)
        {
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(span[pos..]);
            var name = Encoding.UTF8.GetString(span.Slice(pos + 2, nameLength));
            pos += 2 + nameLength;
            seals[name] = BinaryPrimitives.ReadInt64LittleEndian(span[pos..]);
            pos += 8;
        }
        return new Fence(epoch, seals);
    }

    /// <summary>Reads only the epoch; cheap enough to call before and after every group commit.</summary>
    public static long ReadEpoch(string directory) => Read(directory).Epoch;

    public void Write(string directory, bool fsync)
    {
        var body = new GrowableBuffer(256);
        body.WriteInt64(Epoch);
        body.WriteInt32(SealedLengths.Count);
        foreach (var (name, length) in SealedLengths)
        {
            body.WriteString16(name);
            body.WriteInt64(length);
        }
        var bytes = new byte[5 + body.Length];
        bytes[0] = Version;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(1), Crc32C.Compute(body.WrittenSpan));
        body.WrittenSpan.CopyTo(bytes.AsSpan(5));
        AtomicFile.Write(Path.Combine(directory, FileName), bytes, fsync);
    }
}

/// <summary>Write-temp-then-rename, so a reader sees the old or the new content, never a mix.</summary>
internal static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> content, bool fsync)
    {
        var temp = $"{path}.tmp-{Guid.NewGuid():N}";
        try
        {
            using (var handle = System.IO.File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write))
            {
                RandomAccess.Write(handle, content, 0);
                if (fsync) RandomAccess.FlushToDisk(handle);
            }
            System.IO.File.Move(temp, path, overwrite: true);
            if (fsync) DirectorySync.Flush(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
        catch
        {
            try { System.IO.File.Delete(temp); } catch (IOException) { /* best effort: a stray temp file is ignored by readers */ }
            throw;
        }
    }
}
