using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// Files written unbuffered (Linux <c>O_DIRECT</c>): the bytes go from the process's buffer to the device, without
/// the kernel copying them into the page cache first. The event-body files are written once and read rarely (a replay
/// after fail-over, a snapshot sent to a member behind the log); that copy was 12% of all CPU of three replicas, and
/// unbuffered the sustained rate rose ~20% (docs/benchmarks.md). Writes must start and end on <see cref="Alignment"/>
/// boundaries from a buffer aligned the same way. Where the file system refuses (tmpfs) or off Linux, files open
/// buffered instead.
/// </summary>
internal static class DirectIo
{
    /// <summary>Offset, length and buffer alignment of every unbuffered write (the common page and sector size).</summary>
    public const int Alignment = 4096;

    private const int ReadWrite = 2, Create = 0x40, Exclusive = 0x80, CloseOnExec = 0x80000;

    /// <summary>Creates a new file for unbuffered writing; null where unbuffered files are not supported.</summary>
    public static SafeFileHandle? TryCreate(string path)
    {
        if (!OperatingSystem.IsLinux() || DirectFlag() is not { } direct) return null;
        int fd;
        try
        {
            fd = open(path, ReadWrite | Create | Exclusive | CloseOnExec | direct, Convert.ToInt32("644", 8));
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
        if (fd >= 0) return new SafeFileHandle(fd, ownsHandle: true);
        var errno = Marshal.GetLastPInvokeError();
        if (errno == 22) return null; // EINVAL: this file system does not do O_DIRECT (nothing was created)
        throw new IOException($"cannot create [{path}] (errno {errno})");
    }

    /// <summary>A buffer of <paramref name="size"/> bytes (rounded up to the alignment) that starts on an aligned address.</summary>
    public static Memory<byte> AlignedBuffer(int size)
    {
        size = (size + Alignment - 1) / Alignment * Alignment;
        var array = GC.AllocateUninitializedArray<byte>(size + Alignment, pinned: true); // pinned: the address stays
        var misalignment = (int)(Marshal.UnsafeAddrOfPinnedArrayElement(array, 0) % Alignment);
        return array.AsMemory(misalignment == 0 ? 0 : Alignment - misalignment, size);
    }

    private static int? DirectFlag() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 => 0x4000,
        Architecture.Arm64 or Architecture.Arm => 0x10000,
        _ => null,
    };

    [DllImport("libc", SetLastError = true)]
    private static extern int open(string path, int flags, int mode);
}
