namespace ActorBroker.Testing;

/// <summary>Where the repository and the built node are, found from the test assembly's location.</summary>
public static class RepositoryLayout
{
    /// <summary>The directory holding ActorBroker.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The node built in the same configuration (Debug/Release) as the running tests.</summary>
    public static string NodeDll
    {
        get
        {
            var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
            var dll = Path.Combine(Root, "src", "ActorBroker.Node", "bin", configuration, "net10.0", "ActorBroker.Node.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"build the node first ({configuration}): {dll} is missing");
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ActorBroker.sln")))
                return dir.FullName;
        }

        throw new DirectoryNotFoundException($"ActorBroker.sln not found above {AppContext.BaseDirectory}");
    }
}
