using System.Text;
using ActorBroker.Core.Protocol;

namespace ActorBroker.Core;

/// <summary>
/// Child actor names for destinations. Destination names are any unicode text, actor names are not:
/// ASCII letters and digits stay, every other UTF-8 byte becomes <c>_XX</c> (hex). Injective, so two
/// destinations never collide, and <c>-</c> never occurs in an escaped part, so it separates parts safely.
/// </summary>
internal static class ActorNames
{
    public static string For(Destination destination) =>
        (destination.Kind == DestinationKind.Queue ? "queue-" : "topic-") + Escape(destination.Name);

    public static string ForDurable(string clientId, string subscriptionName) =>
        "durable-" + Escape(clientId) + "-" + Escape(subscriptionName);

    public static string Escape(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            if (b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9')
                builder.Append((char)b);
            else
                builder.Append('_').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return builder.ToString();
    }
}
