using System.Net.Http.Json;
using System.Runtime.InteropServices;

namespace LiteFs.TestKit;

/// <summary>
/// A real etcd (Debian's etcd-server, /usr/bin/etcd) on random loopback ports with a data
/// directory of its own, started for a test and killed by its PID when disposed, whatever
/// happened. Optionally with TLS on the client port and with authentication enabled (user
/// <see cref="RootUser"/>).
/// </summary>
public sealed class EtcdServer : IDisposable
{
    public const string Binary = "/usr/bin/etcd";
    public const string Ctl = "/usr/bin/etcdctl";
    public const string RootUser = "root";
    public const string RootPassword = "root-secret";

    private readonly TempDir _dir;
    private ChildProcess? _process;

    private EtcdServer(TempDir dir, int clientPort, int peerPort, bool https)
    {
        _dir = dir;
        ClientPort = clientPort;
        PeerPort = peerPort;
        Url = $"{(https ? "https" : "http")}://127.0.0.1:{clientPort}";
    }

    public string Url { get; }

    public int ClientPort { get; }

    public int PeerPort { get; }

    /// <summary>The CA file that signed the server certificate, for a TLS server.</summary>
    public string? CaFile { get; private set; }

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Starts etcd and waits until it answers its health check.</summary>
    public static EtcdServer Start(bool auth = false, bool tls = false)
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"{Binary} not found: install etcd (apt-get install etcd-server etcd-client; ./test.sh does it when run as root)");
        }
        var server = new EtcdServer(new TempDir("litefs-etcd"), FreePort.Next(), FreePort.Next(), tls);
        try
        {
            server.Launch(tls);
            if (auth)
            {
                server.EnableAuth();
            }
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    private void Launch(bool tls)
    {
        var peer = $"http://127.0.0.1:{PeerPort}";
        List<string> args =
        [
            "--name", "litefs-test",
            "--data-dir", _dir.Combine("data"),
            "--listen-client-urls", Url,
            "--advertise-client-urls", Url,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", $"litefs-test={peer}",
            "--initial-cluster-state", "new",
            "--logger", "zap",
            "--log-level", "warn",
        ];
        if (tls)
        {
            var (ca, cert, key) = Certificates.Make(_dir.Path);
            CaFile = ca;
            args.AddRange(["--cert-file", cert, "--key-file", key]);
        }
        var env = new Dictionary<string, string>();
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
        {
            // etcd 3.4 refuses to start on arm64 without it.
            env["ETCD_UNSUPPORTED_ARCH"] = "arm64";
        }
        _process = ChildProcess.Start(Binary, args, env);
        WaitHealthy();
    }

    private void WaitHealthy()
    {
        using var handler = new HttpClientHandler();
        if (CaFile is not null)
        {
            handler.ServerCertificateCustomValidationCallback = (_, _, _, _) => true;
        }
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException($"etcd exited ({_process.ExitCode}) while starting: {_process.Stderr}");
            }
            try
            {
                var health = http.GetFromJsonAsync<Dictionary<string, string>>($"{Url}/health").GetAwaiter().GetResult();
                if (health?.GetValueOrDefault("health") == "true")
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"etcd at {Url} not healthy within 30 s: {_process.Stderr}");
            }
            Thread.Sleep(100);
        }
    }

    /// <summary>Adds the root user with <see cref="RootPassword"/> and turns authentication on.</summary>
    private void EnableAuth()
    {
        Run("user", "add", $"{RootUser}:{RootPassword}");
        Run("user", "grant-role", RootUser, "root");
        Run("auth", "enable");
    }

    /// <summary>Runs etcdctl against this server (v3 API).</summary>
    public string Run(params string[] command)
    {
        if (!File.Exists(Ctl))
        {
            throw new InvalidOperationException($"{Ctl} not found: install etcd-client");
        }
        List<string> args = ["--endpoints", Url, .. command];
        if (CaFile is not null)
        {
            args.InsertRange(0, ["--cacert", CaFile]);
        }
        var (code, stdout, stderr) = ChildProcess.Run(Ctl, args, environment: new Dictionary<string, string> { ["ETCDCTL_API"] = "3" }, timeout: TimeSpan.FromSeconds(30));
        if (code != 0)
        {
            throw new InvalidOperationException($"etcdctl {string.Join(' ', command)} failed ({code}): {stderr}");
        }
        return stdout;
    }

    /// <summary>Kills etcd (by its PID) and waits for it to exit.</summary>
    public void Stop()
    {
        if (_process is { } process)
        {
            process.Signal(9);
            process.WaitForExit(TimeSpan.FromSeconds(10));
        }
    }

    public void Dispose()
    {
        _process?.Dispose();
        _process = null;
        _dir.Dispose();
    }
}

/// <summary>A throwaway CA and a server certificate for 127.0.0.1 signed by it, made with openssl.</summary>
public static class Certificates
{
    public static (string Ca, string Cert, string Key) Make(string dir)
    {
        var ca = Path.Combine(dir, "ca.pem");
        var caKey = Path.Combine(dir, "ca-key.pem");
        var cert = Path.Combine(dir, "server.pem");
        var key = Path.Combine(dir, "server-key.pem");
        var csr = Path.Combine(dir, "server.csr");
        var ext = Path.Combine(dir, "server.ext");
        File.WriteAllText(ext, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n");
        OpenSsl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", ca, "-days", "2", "-subj", "/CN=litefs-test-ca");
        OpenSsl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1");
        OpenSsl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext);
        return (ca, cert, key);
    }

    private static void OpenSsl(params string[] args)
    {
        var (code, _, stderr) = ChildProcess.Run("openssl", args, timeout: TimeSpan.FromSeconds(60));
        if (code != 0)
        {
            throw new InvalidOperationException($"openssl {string.Join(' ', args)} failed ({code}): {stderr}");
        }
    }
}
