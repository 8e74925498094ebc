using System.Net.Http.Json;
using LiteFs.TestKit;

namespace LiteFs.Leases.Consul.Tests;

/// <summary>
/// The Consul the tests of a class run against: a real agent (<c>consul agent -dev</c> on random
/// loopback ports, killed by PID) when a <c>consul</c> executable is on PATH, otherwise the
/// in-process <see cref="ConsulStandIn"/>. Either accepts session TTLs down to 1 s.
/// </summary>
public sealed class ConsulFixture : IAsyncLifetime
{
    private ChildProcess? _agent;
    private TempDir? _agentDir;

    public string Url { get; private set; } = "";

    /// <summary>The stand-in, when no agent is installed.</summary>
    public ConsulStandIn? StandIn { get; private set; }

    public bool IsRealAgent => _agent is not null;

    public async Task InitializeAsync()
    {
        if (FindConsul() is { } consul)
        {
            await StartAgentAsync(consul);
        }
        else
        {
            StandIn = await ConsulStandIn.StartAsync(minSessionTtl: TimeSpan.FromSeconds(1));
            Url = StandIn.Url;
        }
    }

    public async Task DisposeAsync()
    {
        if (StandIn is not null)
        {
            await StandIn.DisposeAsync();
        }
        _agent?.Dispose();
        _agentDir?.Dispose();
    }

    private static string? FindConsul() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "consul"))
            .FirstOrDefault(File.Exists);

    private async Task StartAgentAsync(string consul)
    {
        _agentDir = new TempDir("litefs-consul");
        var http = FreePort.Next();
        Url = $"http://127.0.0.1:{http}";
        _agent = ChildProcess.Start(consul,
        [
            "agent", "-dev", "-node", "litefs-test", "-bind", "127.0.0.1", "-client", "127.0.0.1",
            "-http-port", $"{http}", "-dns-port", "-1", "-serf-lan-port", $"{FreePort.Next()}", "-serf-wan-port", $"{FreePort.Next()}",
            "-server-port", $"{FreePort.Next()}", "-grpc-port", "-1", "-data-dir", _agentDir.Path,
            "-hcl", "session_ttl_min = \"1s\"",
        ]);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (_agent.HasExited)
            {
                throw new InvalidOperationException($"consul exited ({_agent.ExitCode}) while starting: {_agent.Stdout} {_agent.Stderr}");
            }
            try
            {
                if (await client.GetFromJsonAsync<string>($"{Url}/v1/status/leader") is { Length: > 0 })
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"consul at {Url} has no leader within 30 s: {_agent.Stdout}");
            }
            await Task.Delay(100);
        }
    }
}
