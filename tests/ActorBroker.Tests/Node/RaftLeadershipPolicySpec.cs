using ActorBroker.Node;
using Xunit;

namespace ActorBroker.Tests.Node;

/// <summary>
/// The rules that keep the Raft leader on the oldest cluster member (replicated-raft profile), including the way out of
/// the deadlock where the oldest survivor's log is behind another survivor's that sits in standby.
/// </summary>
public sealed class RaftLeadershipPolicySpec
{
    private static readonly RaftLeaderFollowsOldestSettings Settings = new(
        CheckInterval: TimeSpan.FromMilliseconds(100), HandOverDelay: TimeSpan.FromMilliseconds(500),
        AssistAfter: TimeSpan.FromMilliseconds(1200), AssistWindow: TimeSpan.FromSeconds(3));

    private static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private static DateTime At(int milliseconds) => T0.AddMilliseconds(milliseconds);

    [Fact(DisplayName = "Raft leadership policy: the oldest member leaves standby, then does nothing while it leads")]
    public void OldestCampaignsAndLeads()
    {
        var policy = new RaftLeadershipPolicy(Settings);
        Assert.Equal(RaftModeChange.LeaveStandby, policy.Decide(isOldest: true, isLeader: false, isStandby: true, At(0)));
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: true, isLeader: false, isStandby: false, At(400)));
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: true, isLeader: true, isStandby: false, At(10_000)));
    }

    [Fact(DisplayName = "Raft leadership policy: every other member enters standby and stays there")]
    public void OthersStandBy()
    {
        var policy = new RaftLeadershipPolicy(Settings);
        Assert.Equal(RaftModeChange.EnterStandby, policy.Decide(isOldest: false, isLeader: false, isStandby: false, At(0)));
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: false, isLeader: false, isStandby: true, At(100)));
    }

    [Fact(DisplayName = "Raft leadership policy: a leader that is not the oldest leads one hand-over delay, then steps down")]
    public void NonOldestLeaderHandsOver()
    {
        var policy = new RaftLeadershipPolicy(Settings);
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: false, isLeader: true, isStandby: false, At(0)));
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: false, isLeader: true, isStandby: false, At(499)));
        Assert.Equal(RaftModeChange.StepDown, policy.Decide(isOldest: false, isLeader: true, isStandby: false, At(500)));
    }

    [Fact(DisplayName = "Raft leadership policy: an oldest member that cannot win asks the others to campaign, once per assist-after")]
    public void StaleOldestAsksForAssistance()
    {
        var policy = new RaftLeadershipPolicy(Settings);
        Assert.Equal(RaftModeChange.LeaveStandby, policy.Decide(isOldest: true, isLeader: false, isStandby: true, At(0)));
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: true, isLeader: false, isStandby: false, At(1199)));
        Assert.Equal(RaftModeChange.AskOthersToAssist, policy.Decide(isOldest: true, isLeader: false, isStandby: false, At(1200)));
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: true, isLeader: false, isStandby: false, At(2000)));
        Assert.Equal(RaftModeChange.AskOthersToAssist, policy.Decide(isOldest: true, isLeader: false, isStandby: false, At(2400)));
        // once it leads, the clock stops
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: true, isLeader: true, isStandby: false, At(2500)));
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: true, isLeader: false, isStandby: false, At(2600)));
    }

    [Fact(DisplayName = "Raft leadership policy: while another node leads (a hand-over), the oldest member's clock restarts: it does not ask again as the assistant steps down")]
    public void OldestWaitsOutAHandOver()
    {
        var policy = new RaftLeadershipPolicy(Settings);
        policy.Decide(isOldest: true, isLeader: false, isStandby: true, At(0));
        Assert.Equal(RaftModeChange.AskOthersToAssist, policy.Decide(isOldest: true, isLeader: false, isStandby: false, At(1200)));
        // the assistant wins and leads for a hand-over delay
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: true, isLeader: false, isStandby: false, At(1500), anotherLeads: true));
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: true, isLeader: false, isStandby: false, At(2100), anotherLeads: true));
        // it stepped down at 2100: a full assist-after from there before asking again (2400 would have been due before)
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: true, isLeader: false, isStandby: false, At(2500)));
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: true, isLeader: false, isStandby: false, At(3299)));
        Assert.Equal(RaftModeChange.AskOthersToAssist, policy.Decide(isOldest: true, isLeader: false, isStandby: false, At(3300)));
    }

    [Fact(DisplayName = "Raft leadership policy: the deadlock of a stale oldest member resolves: an asked standby campaigns, leads, hands back and stands by again")]
    public void AssistedElectionHandsLeadershipBack()
    {
        var oldest = new RaftLeadershipPolicy(Settings);
        var other = new RaftLeadershipPolicy(Settings);
        Assert.Equal(RaftModeChange.None, other.Decide(isOldest: false, isLeader: false, isStandby: true, At(0)));

        // The oldest (log behind) campaigns in vain, then asks.
        oldest.Decide(isOldest: true, isLeader: false, isStandby: true, At(0));
        Assert.Equal(RaftModeChange.AskOthersToAssist, oldest.Decide(isOldest: true, isLeader: false, isStandby: false, At(1300)));
        other.AssistRequested(At(1300));

        // The asked member campaigns (even in standby it would stay stuck otherwise) and wins.
        Assert.Equal(RaftModeChange.LeaveStandby, other.Decide(isOldest: false, isLeader: false, isStandby: true, At(1300)));
        Assert.Equal(RaftModeChange.None, other.Decide(isOldest: false, isLeader: false, isStandby: false, At(1400)));
        Assert.Equal(RaftModeChange.None, other.Decide(isOldest: false, isLeader: true, isStandby: false, At(1800)));
        // It leads a hand-over delay (its log reaches the oldest), then steps down: no campaigning against the oldest.
        Assert.Equal(RaftModeChange.StepDown, other.Decide(isOldest: false, isLeader: true, isStandby: false, At(2300)));
        Assert.Equal(RaftModeChange.None, other.Decide(isOldest: false, isLeader: false, isStandby: true, At(2400)));
        // Had the step-down left it a follower in normal mode, it goes back to standby even inside the old assist window.
        Assert.Equal(RaftModeChange.EnterStandby, other.Decide(isOldest: false, isLeader: false, isStandby: false, At(2500)));
        // The oldest now wins: nothing more to do.
        Assert.Equal(RaftModeChange.None, oldest.Decide(isOldest: true, isLeader: true, isStandby: false, At(2900)));
    }

    [Fact(DisplayName = "Raft leadership policy: an asked member that does not win returns to standby after the assist window")]
    public void AssistWindowEnds()
    {
        var policy = new RaftLeadershipPolicy(Settings);
        policy.AssistRequested(At(0));
        Assert.Equal(RaftModeChange.LeaveStandby, policy.Decide(isOldest: false, isLeader: false, isStandby: true, At(0)));
        Assert.Equal(RaftModeChange.None, policy.Decide(isOldest: false, isLeader: false, isStandby: false, At(2999)));
        Assert.Equal(RaftModeChange.EnterStandby, policy.Decide(isOldest: false, isLeader: false, isStandby: false, At(3000)));
    }
}
