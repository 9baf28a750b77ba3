using System.Diagnostics;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// Process-wide counters of where a replica's write path spends its time (JournalBench --raft-profile prints them).
/// Off unless <see cref="Enabled"/>; the counters are summed over all replicas of the process.
/// </summary>
internal static class RaftProfile
{
    public static bool Enabled;
    public static long Rounds, RoundOps, RoundBytes, EncodeTicks, AppendTicks, ReplicateTicks, OutcomeTicks, QueueWaitTicks;
    public static long ForwardRounds, ForwardOps, ForwardTicks, ForwardApplyWaitTicks, JournalWrites, JournalWriteTicks;
    public static long AppliedEntries, AppliedOps, ApplyTicks, Snapshots, SnapshotTicks, SnapshotBytes, BodyWriteTicks, CaptureTicks;

    public static long Now => Enabled ? Stopwatch.GetTimestamp() : 0;
    // startedAt 0: the interval began while profiling was off, so it is not counted (it would count from tick 0)
    public static void Add(ref long counter, long startedAt) { if (Enabled && startedAt != 0) Interlocked.Add(ref counter, Stopwatch.GetTimestamp() - startedAt); }
    public static void Count(ref long counter, long n = 1) { if (Enabled) Interlocked.Add(ref counter, n); }

    public static void Reset()
    {
        Rounds = RoundOps = RoundBytes = EncodeTicks = AppendTicks = ReplicateTicks = OutcomeTicks = QueueWaitTicks = 0;
        ForwardRounds = ForwardOps = ForwardTicks = ForwardApplyWaitTicks = JournalWrites = JournalWriteTicks = 0;
        AppliedEntries = AppliedOps = ApplyTicks = Snapshots = SnapshotTicks = SnapshotBytes = BodyWriteTicks = CaptureTicks = 0;
    }

    public static string Report(double seconds)
    {
        static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        var r = Math.Max(1, Rounds);
        return $"leader rounds {Rounds} ({Rounds / seconds:N0}/s), {RoundOps / (double)r:N1} ops/round, {RoundBytes / (double)r / 1024:N0} KiB/round; " +
               $"per round: encode {Ms(EncodeTicks) / r:N2} ms, WAL append {Ms(AppendTicks) / r:N2} ms, replicate+commit+apply {Ms(ReplicateTicks) / r:N2} ms, outcomes + durable-quorum wait {Ms(OutcomeTicks) / r:N2} ms; " +
               $"queue wait per op {Ms(QueueWaitTicks) / Math.Max(1, RoundOps + ForwardOps):N2} ms; " +
               $"journal writes {JournalWrites}, {Ms(JournalWriteTicks) / Math.Max(1, JournalWrites):N2} ms each (journal actor's call to acknowledgement)\n" +
               $"forwarded rounds {ForwardRounds}, {ForwardOps / (double)Math.Max(1, ForwardRounds):N1} ops/round, per round {Ms(ForwardTicks) / Math.Max(1, ForwardRounds):N2} ms + wait-apply {Ms(ForwardApplyWaitTicks) / Math.Max(1, ForwardRounds):N2} ms\n" +
               $"applied entries {AppliedEntries} (all replicas), {AppliedOps} ops, apply {Ms(ApplyTicks):N0} ms total ({Ms(ApplyTicks) / Math.Max(1, AppliedEntries):N2} ms/entry, of which body-file writes {Ms(BodyWriteTicks) / Math.Max(1, AppliedEntries):N2} ms " +
               $"and snapshot captures {Ms(CaptureTicks) / Math.Max(1, AppliedEntries):N2} ms); " +
               $"snapshots {Snapshots}, {Ms(SnapshotTicks):N0} ms total, {SnapshotBytes / 1048576.0:N1} MiB";
    }
}
