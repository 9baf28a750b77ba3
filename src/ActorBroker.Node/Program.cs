using ActorBroker.Node;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

NodeCommandLine commandLine;
try
{
    commandLine = NodeCommandLine.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(NodeCommandLine.Usage);
    return 2;
}

if (commandLine.ShowHelp)
{
    Console.WriteLine(NodeCommandLine.Usage);
    return 0;
}

var profile = ProfileLocator.Resolve(commandLine.ConfigFile);
if (profile is null)
{
    Console.Error.WriteLine($"error: profile [{commandLine.ConfigFile ?? ProfileLocator.DefaultProfile}] not found");
    return 2;
}

var environment = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
    .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
var config = NodeConfiguration.Build(File.ReadAllText(profile), commandLine.Overrides, environment);
var (wrongKinds, unknownKeys) = SettingKinds.Check(config, NodeConfiguration.AllReferences);
foreach (var unknown in unknownKeys) Console.Error.WriteLine($"warning: {unknown}");
if (wrongKinds.Count > 0)
{
    foreach (var wrong in wrongKinds) Console.Error.WriteLine($"error: {wrong}");
    return 2;
}
NodeSettings settings;
try
{
    settings = NodeSettings.Create(config);
}
catch (Akka.Configuration.ConfigurationException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

Directory.CreateDirectory(settings.DataDirectory);

// One actor system per pass. A downed actor system can never rejoin its cluster; with restart-when-downed the process
// starts a new one (a standby joining the seed nodes) instead of ending. SIGTERM / Ctrl-C always end the process.
var incarnationConfig = config;
for (var incarnation = 1; ; incarnation++)
{
    ActorSystem? system = null;
    IReadOnlyList<Address> lastMembers = [];
    using (var host = BuildHost(incarnationConfig, profile, settings, incarnation, started =>
           {
               system = started;
               // The membership as this incarnation last saw it, before the downing emptied it: where to rejoin.
               CoordinatedShutdown.Get(started).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "remember-members", () =>
               {
                   lastMembers = Akka.Cluster.Cluster.Get(started).State.Members.Select(m => m.Address).ToList();
                   return Task.FromResult(Akka.Done.Instance);
               });
           }))
    {
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>(); // RunAsync disposes the host
        try
        {
            await host.RunAsync();
        }
        catch (Exception e) when (!lifetime.ApplicationStarted.IsCancellationRequested)
        {
            // A setting a component reads only as it starts (a plugin's, the STOMP listener's) was invalid, or the
            // store it needs refused: one line and exit code 2 instead of an unhandled exception (SIGABRT, core dump).
            Console.Error.WriteLine($"error: the node could not start: {e.GetBaseException().Message}");
            return 2;
        }
    }

    var reason = system is null ? null : CoordinatedShutdown.Get(system).ShutdownReason;
    if (!settings.RestartWhenDowned || reason is not CoordinatedShutdown.ClusterDowningReason)
        return 0;

    incarnationConfig = NodeConfiguration.WithRejoinSeeds(config, lastMembers);
    Console.WriteLine($"{DateTime.Now:HH:mm:ss.fff} warn: ActorBroker.Node[0] This node was downed by the cluster; " +
                      $"restart-when-downed: starting a new actor system (incarnation {incarnation + 1}) in {settings.RestartDelay.TotalMilliseconds} ms, " +
                      $"seed nodes [{string.Join(", ", incarnationConfig.GetStringList("akka.cluster.seed-nodes"))}]");
    await Task.Delay(settings.RestartDelay);
}

static IHost BuildHost(Akka.Configuration.Config config, string profile, NodeSettings settings, int incarnation, Action<ActorSystem> started)
{
    var builder = Host.CreateApplicationBuilder();
    builder.Logging.ClearProviders();
    builder.Logging.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
    });
    builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.ShutdownTimeout);
    builder.Services.AddAkka(NodeSettings.SystemName, (akka, services) =>
    {
        akka.AddHocon(config, HoconAddMode.Replace);
        akka.ConfigureLoggers(loggers =>
        {
            loggers.ClearLoggers();
            loggers.AddLoggerFactory();
        });
        akka.WithActors((system, _, _) =>
        {
            started(system);
            if (incarnation > 1)
                services.GetRequiredService<ILoggerFactory>().CreateLogger("ActorBroker.Node")
                    .LogWarning("Actor system incarnation {Incarnation}: restarted after this node was downed; joining as a standby", incarnation);
            BrokerNode.Start(system, config, profile, services.GetRequiredService<ILoggerFactory>());
        });
    });
    return builder.Build();
}
