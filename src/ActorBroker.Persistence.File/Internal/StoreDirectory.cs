namespace ActorBroker.Persistence.File.Internal;

/// <summary>
/// Creates a store directory (journal, snapshot store, a persistence id's snapshots) only where its parent exists. The
/// journal usually lives in a shared directory; when that share is missing (unmounted, renamed away) a node must not
/// rebuild it as a private, empty directory in which it would see no history and write a forked one.
/// </summary>
internal static class StoreDirectory
{
    /// <exception cref="DirectoryNotFoundException">the parent does not exist (it is never created).</exception>
    public static void EnsureExists(string directory)
    {
        if (System.IO.Directory.Exists(directory)) return;
        var parent = Path.GetDirectoryName(Path.GetFullPath(directory));
        if (parent is not null && !System.IO.Directory.Exists(parent))
            throw new DirectoryNotFoundException(
                $"store directory [{directory}] cannot be created: its parent [{parent}] does not exist or is unreachable " +
                "(an unmounted or missing shared directory is never recreated)");
        System.IO.Directory.CreateDirectory(directory);
    }
}
