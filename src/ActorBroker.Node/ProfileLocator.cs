namespace ActorBroker.Node;

/// <summary>
/// Finds the HOCON profile: as given (relative to the working directory), else next to the
/// executable (the build copies hocon/ there), so <c>dotnet run --project src/ActorBroker.Node</c>
/// works from the repository root and from anywhere else.
/// </summary>
public static class ProfileLocator
{
    public const string DefaultProfile = "hocon/standalone.conf";

    public static string? Resolve(string? requested)
    {
        var path = requested ?? DefaultProfile;
        if (File.Exists(path))
            return Path.GetFullPath(path);
        if (Path.IsPathRooted(path))
            return null;
        var besideExecutable = Path.Combine(AppContext.BaseDirectory, path);
        return File.Exists(besideExecutable) ? besideExecutable : null;
    }
}
