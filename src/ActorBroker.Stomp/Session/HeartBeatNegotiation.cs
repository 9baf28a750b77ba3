using System.Globalization;

namespace ActorBroker.Stomp.Session;

/// <summary>The outcome of heart-beat negotiation; zero means "off" for that direction.</summary>
/// <param name="ServerSendInterval">The server sends something (a frame or an EOL) at least this often.</param>
/// <param name="ClientSendInterval">The client promised to send at least this often.</param>
/// <param name="ClientSilenceTimeout">After this much silence from the client the server disconnects it (interval times grace factor).</param>
public readonly record struct HeartBeatAgreement(TimeSpan ServerSendInterval, TimeSpan ClientSendInterval, TimeSpan ClientSilenceTimeout)
{
    public static HeartBeatAgreement Off => default;
}

/// <summary>STOMP 1.2 heart-beat math (spec section "Heart-beating"), pure so it can be tested alone.</summary>
public static class HeartBeatNegotiation
{
    /// <summary>
    /// Client offers "cx,cy" (cx: it can send every cx ms; cy: it wants to receive every cy ms); server
    /// offers sx (can send) and sy (wants to receive). Each direction is off when either side says 0,
    /// else it runs at the larger of the two values.
    /// </summary>
    public static HeartBeatAgreement Negotiate(long clientCanSendMs, long clientWantsMs, TimeSpan serverCanSend, TimeSpan serverWants, double graceFactor)
    {
        var serverCanSendMs = (long)serverCanSend.TotalMilliseconds;
        var serverWantsMs = (long)serverWants.TotalMilliseconds;

        var serverSends = clientWantsMs == 0 || serverCanSendMs == 0 ? 0 : Math.Max(clientWantsMs, serverCanSendMs);
        var clientSends = clientCanSendMs == 0 || serverWantsMs == 0 ? 0 : Math.Max(clientCanSendMs, serverWantsMs);
        return new HeartBeatAgreement(
            TimeSpan.FromMilliseconds(serverSends),
            TimeSpan.FromMilliseconds(clientSends),
            TimeSpan.FromMilliseconds(Math.Ceiling(clientSends * graceFactor)));
    }

    /// <summary>Parses the "cx,cy" heart-beat header; absent means "0,0". False when malformed.</summary>
    public static bool TryParseHeader(string? header, out long canSendMs, out long wantsMs)
    {
        canSendMs = 0;
        wantsMs = 0;
        if (header is null)
            return true;

        var comma = header.IndexOf(',');
        return comma > 0
            && long.TryParse(header.AsSpan(0, comma).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out canSendMs)
            && long.TryParse(header.AsSpan(comma + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out wantsMs)
            && canSendMs <= int.MaxValue && wantsMs <= int.MaxValue;
    }

    /// <summary>The server's own "sx,sy" for CONNECTED.</summary>
    public static string FormatServerHeader(TimeSpan serverCanSend, TimeSpan serverWants) =>
        string.Create(CultureInfo.InvariantCulture, $"{(long)serverCanSend.TotalMilliseconds},{(long)serverWants.TotalMilliseconds}");
}
