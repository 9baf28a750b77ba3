namespace ActorBroker.Node;

/// <summary>
/// The node's command line: <c>--config FILE</c> (default hocon/standalone.conf), repeatable
/// <c>--set path=value</c>, <c>--help</c>. Parsing is pure so it can be unit-tested.
/// </summary>
public sealed record NodeCommandLine(string? ConfigFile, IReadOnlyList<KeyValuePair<string, string>> Overrides, bool ShowHelp)
{
    public const string Usage = """
        Usage: ActorBroker.Node [--config FILE] [--set path=value]... [--help]

          --config FILE      HOCON profile to run (default: hocon/standalone.conf)
          --set path=value   override one HOCON key, e.g. --set actorbroker.stomp.port=61614 (repeatable)
          --help             print this text

        Precedence, lowest to highest: component reference.conf < profile < --set < environment.
        Environment: ACTORBROKER_DATA_DIR, ACTORBROKER_HOST, ACTORBROKER_STOMP_PORT, ACTORBROKER_CLUSTER_PORT,
        ACTORBROKER_SEED_NODES, ACTORBROKER_SHARED_DIR, ACTORBROKER_SQL_CONNECTION, ACTORBROKER_ZOOKEEPER,
        ACTORBROKER_RAFT_PORT, ACTORBROKER_RAFT_MEMBERS
        (see README.md, section Configuration).
        """;

    /// <summary>Parses <paramref name="args"/>; throws <see cref="ArgumentException"/> naming the bad argument.</summary>
    public static NodeCommandLine Parse(IReadOnlyList<string> args)
    {
        string? config = null;
        var overrides = new List<KeyValuePair<string, string>>();
        var help = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "--help" or "-h":
                    help = true;
                    break;
                case "--config":
                    config = ValueOf(args, ref i, arg);
                    break;
                case "--set":
                    var assignment = ValueOf(args, ref i, arg);
                    var eq = assignment.IndexOf('=');
                    if (eq <= 0)
                        throw new ArgumentException($"--set expects path=value, got [{assignment}]");
                    overrides.Add(new(assignment[..eq].Trim(), assignment[(eq + 1)..]));
                    break;
                default:
                    throw new ArgumentException($"unknown argument [{arg}]; accepted: --config FILE, --set path=value, --help");
            }
        }

        return new NodeCommandLine(config, overrides, help);
    }

    private static string ValueOf(IReadOnlyList<string> args, ref int i, string name)
    {
        if (i + 1 >= args.Count)
            throw new ArgumentException($"{name} needs a value");
        return args[++i];
    }
}
