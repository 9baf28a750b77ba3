using System.Globalization;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace ActorBroker.Node;

/// <summary>
/// Checks the node's <c>actorbroker.*</c> settings before any component reads them. A component's getter fails on a
/// value of the wrong kind with "The input string 'abc' was not in a correct format." (Akka's message, no key) and
/// only once that component starts; here every key whose reference.conf default is a number, a duration, a size or
/// on/off must hold a value of that kind, and the error names the key, the value and the default. A key that no
/// reference.conf has (a typo, a key of another version) is reported too: nothing would read it.
/// </summary>
public static partial class SettingKinds
{
    private const string Root = "actorbroker";

    private enum Kind { Text, Number, Duration, Size, Switch }

    /// <summary>
    /// The problems found, one line each: settings of the wrong kind (the node refuses to start) and keys that no
    /// reference.conf has (the node warns). Both empty: every setting is of its default's kind.
    /// </summary>
    /// <param name="settings">The composed configuration (profile, overrides, environment, references).</param>
    /// <param name="references">Every component's reference.conf and the node's own: the kinds come from their defaults.</param>
    public static (IReadOnlyList<string> Errors, IReadOnlyList<string> UnknownKeys) Check(Config settings, Config references)
    {
        var defaults = Leaves(references);
        var errors = new List<string>();
        foreach (var (path, reference) in defaults)
        {
            var kind = KindOf(reference);
            if (kind == Kind.Text || !settings.HasPath(path)) continue;
            var value = settings.GetValue(path);
            if (value is null || value.IsObject() || value.IsArray() || !Holds(settings, path, kind))
                errors.Add($"setting [{path}] = [{Show(value)}] is not {Describe(kind)} (its default is [{reference.GetString()}])");
        }

        var unknown = Leaves(settings).Keys
            .Where(path => !defaults.ContainsKey(path) && !UnderAnyDefault(path, defaults))
            .Select(path => $"setting [{path}] is not a key any component reads (a typo?)")
            .ToList();
        return (errors, unknown);
    }

    /// <summary>A key below a default whose value is an object or list (e.g. a plugin section a profile adds keys to).</summary>
    private static bool UnderAnyDefault(string path, IReadOnlyDictionary<string, HoconValue> defaults)
    {
        for (var dot = path.LastIndexOf('.'); dot > 0; dot = path.LastIndexOf('.', dot - 1))
            if (defaults.TryGetValue(path[..dot], out var parent) && (parent.IsArray() || parent.IsObject())) return true;
        return false;
    }

    /// <summary>Every leaf (or empty object) under <c>actorbroker</c>, by its full dotted path.</summary>
    private static Dictionary<string, HoconValue> Leaves(Config config)
    {
        var leaves = new Dictionary<string, HoconValue>(StringComparer.Ordinal);
        if (!config.HasPath(Root)) return leaves;
        Walk(Root, config.GetValue(Root), leaves);
        return leaves;
    }

    private static void Walk(string path, HoconValue value, Dictionary<string, HoconValue> leaves)
    {
        if (value.IsObject() && value.GetObject().Items.Count > 0)
        {
            foreach (var (key, child) in value.GetObject().Items) Walk(path + "." + key, child, leaves);
            return;
        }
        leaves[path] = value;
    }

    private static Kind KindOf(HoconValue reference)
    {
        if (reference.IsObject() || reference.IsArray() || !reference.IsString()) return Kind.Text;
        var text = reference.GetString()?.Trim() ?? "";
        if (NumberPattern().IsMatch(text)) return Kind.Number;
        if (DurationPattern().IsMatch(text)) return Kind.Duration;
        if (SizePattern().IsMatch(text)) return Kind.Size;
        if (text is "on" or "off" or "true" or "false" or "yes" or "no") return Kind.Switch;
        return Kind.Text;
    }

    private static bool Holds(Config settings, string path, Kind kind)
    {
        try
        {
            switch (kind)
            {
                case Kind.Number:
                    return double.TryParse(settings.GetString(path), NumberStyles.Float, CultureInfo.InvariantCulture, out _);
                case Kind.Duration:
                    settings.GetTimeSpan(path); // throws when the value is not a duration
                    return true;
                case Kind.Size:
                    return settings.GetByteSize(path) is not null;
                case Kind.Switch:
                    return settings.GetString(path)?.Trim() is "on" or "off" or "true" or "false" or "yes" or "no";
                default:
                    return true;
            }
        }
        catch (Exception e) when (e is FormatException or OverflowException or ConfigurationException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    private static string Describe(Kind kind) => kind switch
    {
        Kind.Number => "a number",
        Kind.Duration => "a duration (e.g. 300ms, 10s, 2m)",
        Kind.Size => "a size (e.g. 65536, 64 KiB, 1 MiB)",
        Kind.Switch => "on or off",
        _ => "text",
    };

    private static string Show(HoconValue? value)
        => value is null ? "" : value.IsObject() ? "{...}" : value.IsArray() ? "[...]" : value.GetString() ?? "";

    [GeneratedRegex(@"^-?\d+(\.\d+)?$")]
    private static partial Regex NumberPattern();

    [GeneratedRegex(@"^\d+(\.\d+)?\s*(ns|us|µs|ms|s|m|h|d|nanos?|micros?|millis?|milliseconds?|seconds?|minutes?|hours?|days?)$")]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"^\d+(\.\d+)?\s*([kKmMgGtT]i?B|B|bytes?)$")]
    private static partial Regex SizePattern();
}
