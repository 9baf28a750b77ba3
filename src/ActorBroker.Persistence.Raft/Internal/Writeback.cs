using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// Starts the kernel writing a file range to disk without waiting for it (Linux <c>sync_file_range</c>, as RocksDB's
/// <c>bytes_per_sync</c> does). Files this journal writes without fsyncing as it goes (the event-body files, a state
/// snapshot being written) otherwise leave up to ~2 GB of dirty pages on a busy replica (measured with the journal
/// benchmark), which the kernel writes back in bursts; an fsync that lands in a burst (the WAL's, or the snapshot's own
/// at its end) waits behind them. Started early, the same bytes go out in a steady trickle (dirty pages stayed under
/// 20 MB). Elsewhere (no such call) it does nothing; durability never depends on it.
/// </summary>
internal static class Writeback
{
    private const uint SyncFileRangeWrite = 2; // SYNC_FILE_RANGE_WRITE: start writeback of dirty pages, do not wait

    public static void Start(SafeFileHandle file, long offset, long count)
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            _ = sync_file_range(file, offset, count, SyncFileRangeWrite); // a failure only means the kernel writes later
        }
        catch (EntryPointNotFoundException)
        {
        }
        catch (DllNotFoundException)
        {
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int sync_file_range(SafeFileHandle fd, long offset, long nbytes, uint flags);
}
