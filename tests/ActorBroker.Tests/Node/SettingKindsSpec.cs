using ActorBroker.Node;
using ActorBroker.Testing;
using Xunit;

namespace ActorBroker.Tests.Node;

/// <summary><see cref="SettingKinds"/>: settings of the wrong kind are named before any component reads them.</summary>
public class SettingKindsSpec
{
    private static readonly Dictionary<string, string?> NoEnvironment = new();

    private static (IReadOnlyList<string> Errors, IReadOnlyList<string> Unknown) Check(string profile, params (string Path, string Value)[] overrides)
        => SettingKinds.Check(
            NodeConfiguration.Build(profile, overrides.Select(o => new KeyValuePair<string, string>(o.Path, o.Value)), NoEnvironment),
            NodeConfiguration.AllReferences);

    public static TheoryData<string> Profiles()
        => new(Directory.GetFiles(Path.Combine(RepositoryLayout.Root, "hocon"), "*.conf").Select(Path.GetFileName).Order()!);

    [Theory(DisplayName = "Every shipped profile passes: no setting of the wrong kind, no key that no component reads")]
    [MemberData(nameof(Profiles))]
    public void ShippedProfilesPass(string profile)
    {
        var (errors, unknown) = Check(File.ReadAllText(Path.Combine(RepositoryLayout.Root, "hocon", profile)));
        Assert.Empty(errors);
        Assert.Empty(unknown);
    }

    [Theory(DisplayName = "A number, duration, size or on/off setting holding something else is named with its value and default")]
    [InlineData("actorbroker.stomp.port", "sixty", "is not a number", "61613")]
    [InlineData("actorbroker.persistence.raft.write-timeout", "soon", "is not a duration", "10s")]
    [InlineData("actorbroker.stomp.max-frame-size", "abc", "is not a size", "10 MiB")]
    [InlineData("actorbroker.persistence.file.journal.fsync", "maybe", "is not on or off", "on")]
    public void WrongKindIsNamed(string path, string value, string complaint, string defaultValue)
    {
        var (errors, _) = Check("", (path, value));
        var error = Assert.Single(errors);
        Assert.Equal($"setting [{path}] = [{value}] {complaint}", error[..error.IndexOf(complaint, StringComparison.Ordinal)] + complaint);
        Assert.EndsWith($"(its default is [{defaultValue}])", error);
    }

    [Theory(DisplayName = "Every form the components' getters accept passes")]
    [InlineData("actorbroker.stomp.port", "61614")]
    [InlineData("actorbroker.persistence.raft.write-timeout", "2m")]
    [InlineData("actorbroker.persistence.raft.write-timeout", "1500ms")]
    [InlineData("actorbroker.stomp.max-frame-size", "65536")]
    [InlineData("actorbroker.stomp.max-frame-size", "64 KiB")]
    [InlineData("actorbroker.persistence.file.journal.fsync", "off")]
    public void AcceptedFormsPass(string path, string value)
    {
        var (errors, unknown) = Check("", (path, value));
        Assert.Empty(errors);
        Assert.Empty(unknown);
    }

    [Fact(DisplayName = "A key that no reference.conf has (a typo) is reported, not silently ignored")]
    public void UnknownKeyIsReported()
    {
        var (errors, unknown) = Check("actorbroker.stomp.prot = 61614");
        Assert.Empty(errors);
        Assert.Equal(["setting [actorbroker.stomp.prot] is not a key any component reads (a typo?)"], unknown);
    }
}
