namespace LiteFs.TestKit;

/// <summary>Locates the repository, the shared specification and its golden files.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> RootLazy = new(FindRoot);

    /// <summary>The repository root (the folder holding LiteFs.slnx).</summary>
    public static string Root => RootLazy.Value;

    /// <summary>
    /// The shared specification folder: <c>$LITEFS_SPEC_DIR</c> when set, else <c>../shared/spec</c>
    /// beside the repository.
    /// </summary>
    public static string Spec
    {
        get
        {
            var fromEnv = Environment.GetEnvironmentVariable("LITEFS_SPEC_DIR");
            var dir = string.IsNullOrEmpty(fromEnv) ? Path.GetFullPath(Path.Combine(Root, "..", "shared", "spec")) : fromEnv;
            if (!Directory.Exists(dir))
            {
                throw new DirectoryNotFoundException(
                    $"The shared specification folder {dir} does not exist. Check out shared/ beside the repository or set LITEFS_SPEC_DIR.");
            }
            return dir;
        }
    }

    /// <summary>The golden files produced by upstream LiteFS.</summary>
    public static string Golden => Path.Combine(Spec, "testdata", "upstream-v0.5.14");

    /// <summary>The data files copied from upstream test suites.</summary>
    public static string UpstreamTests => Path.Combine(Spec, "testdata", "upstream-tests", "litefs-v0.5.14", "testdata");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LiteFs.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"Cannot find LiteFs.slnx above {AppContext.BaseDirectory}.");
    }
}
