using Akka.Event;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;
using Microsoft.Extensions.Logging;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// DotNext's Raft log lines (elections, term changes, refused votes, replication errors) into the actor system's log,
/// so an operator reads them beside the node's own lines. Only levels at or above the configured one pass.
/// </summary>
internal sealed class RaftLogBridge(ILoggingAdapter log, LogLevel minimum) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => new Logger(log, minimum, categoryName);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException("the Raft log bridge has one sink: the actor system's log");

    public void Dispose()
    {
    }

    private sealed class Logger(ILoggingAdapter log, LogLevel minimum, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var text = $"Raft [{category}]: {formatter(state, exception)}";
            switch (logLevel)
            {
                case LogLevel.Critical or LogLevel.Error:
                    log.Error(exception, text);
                    break;
                case LogLevel.Warning:
                    log.Warning(exception is null ? text : $"{text}: {exception.Message}");
                    break;
                case LogLevel.Information:
                    log.Info(text);
                    break;
                default:
                    log.Debug(text);
                    break;
            }
        }
    }
}
