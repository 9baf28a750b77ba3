using System.Runtime.InteropServices;

namespace ActorBroker.Coordination;

/// <summary>
/// fsync of a directory, so a newly created segment or a rename (fence, snapshot) survives power loss: POSIX makes a
/// file's directory entry durable only when the directory itself is synced. .NET cannot open a directory handle,
/// hence libc. A no-op on Windows, where NTFS journals metadata. Here, the lowest layer, because every store that
/// renames or creates files durably (file journal, Raft journal) needs it.
/// </summary>
public static partial class DirectorySync
{
    private const int ReadOnly = 0;

    public static void Flush(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        var fd = Open(directory, ReadOnly);
        if (fd < 0) throw new IOException($"Cannot open directory [{directory}] to fsync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Fsync(fd) != 0) throw new IOException($"fsync of directory [{directory}] failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally { _ = Close(fd); }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
