using ActorBroker.Node;
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
    akka.WithActors((system, _, _) => BrokerNode.Start(system, config, profile, services.GetRequiredService<ILoggerFactory>()));
});

await builder.Build().RunAsync();
return 0;
