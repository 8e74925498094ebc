namespace LiteFs.TestKit;

/// <summary>Locates the repository and the golden files kept in it (tests/testdata).</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> RootLazy = new(FindRoot);

    /// <summary>The repository root (the folder holding LiteFs.slnx).</summary>
    public static string Root => RootLazy.Value;

    /// <summary>The test data kept in the repository: <c>tests/testdata</c>.</summary>
    public static string TestData => Path.Combine(Root, "tests", "testdata");

    /// <summary>The golden files produced by upstream LiteFS v0.5.14 (tests/testdata/upstream-v0.5.14/README.md).</summary>
    public static string Golden => Path.Combine(TestData, "upstream-v0.5.14");

    /// <summary>The data files copied from upstream's test suites (tests/testdata/upstream-tests/README.md).</summary>
    public static string UpstreamTests => Path.Combine(TestData, "upstream-tests", "litefs-v0.5.14", "testdata");

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
