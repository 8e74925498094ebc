using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace LiteFs.ProxyTestApp;

/// <summary>
/// A small web application over one SQLite database (in a LiteFS mount): rows written by POST
/// and read by GET, uploads and downloads of any size, server-sent events, a WebSocket echo.
/// Every response says which node's application served it (<c>X-App-Node</c>).
/// </summary>
public sealed class TestApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestApp(WebApplication app, string name, int port)
    {
        _app = app;
        Name = name;
        Port = port;
    }

    /// <summary>The node name the application reports.</summary>
    public string Name { get; }

    /// <summary>The port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The application's own URL.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Starts the application on 127.0.0.1:<paramref name="port"/> over the database file <paramref name="dbPath"/>.</summary>
    public static async Task<TestApp> StartAsync(string name, string dbPath, int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, port);
            k.Limits.MaxRequestBodySize = null;
        });
        var app = builder.Build();
        app.UseWebSockets();
        var connection = $"Data Source={dbPath};Pooling=False;Default Timeout=10";
        app.Use(async (context, next) =>
        {
            context.Response.Headers["X-App-Node"] = name;
            await next(context);
        });
        app.MapGet("/node", () => name);
        app.MapGet("/small", () => "ok");
        app.Map("/headers", (HttpRequest r) => string.Join('\n',
            $"host={r.Host}",
            $"x-forwarded-for={r.Headers["X-Forwarded-For"]}",
            $"x-forwarded-proto={r.Headers["X-Forwarded-Proto"]}",
            $"x-forwarded-host={r.Headers["X-Forwarded-Host"]}",
            $"litefs-forwarded-by={r.Headers["Litefs-Forwarded-By"]}"));
        app.MapPost("/rows", async (HttpRequest r) =>
        {
            var value = await new StreamReader(r.Body).ReadToEndAsync();
            using var db = new SqliteConnection(connection);
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, value TEXT); INSERT INTO rows (value) VALUES ($v); SELECT last_insert_rowid();";
            cmd.Parameters.AddWithValue("$v", value);
            var id = Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
            return Results.Text(id.ToString(CultureInfo.InvariantCulture));
        });
        app.MapGet("/rows/{id:long}", (long id) =>
        {
            if (!File.Exists(dbPath))
            {
                return Results.NotFound();
            }
            using var db = new SqliteConnection(connection + ";Mode=ReadOnly");
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = "SELECT value FROM rows WHERE id = $id";
            cmd.Parameters.AddWithValue("$id", id);
            try
            {
                return cmd.ExecuteScalar() is string value ? Results.Text(value) : Results.NotFound();
            }
            catch (SqliteException ex) when (ex.Message.Contains("no such table", StringComparison.Ordinal))
            {
                return Results.NotFound();
            }
        });
        app.MapPost("/upload", async (HttpRequest r) =>
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[64 * 1024];
            long length = 0;
            int n;
            while ((n = await r.Body.ReadAsync(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                length += n;
            }
            return Results.Text($"{length} {Convert.ToHexStringLower(sha.GetHashAndReset())}");
        });
        app.MapGet("/download", async (HttpContext context, long bytes) =>
        {
            context.Response.ContentType = "application/octet-stream";
            var buffer = new byte[64 * 1024];
            for (long sent = 0; sent < bytes;)
            {
                var n = (int)Math.Min(buffer.Length, bytes - sent);
                for (var i = 0; i < n; i++)
                {
                    buffer[i] = Pattern(sent + i);
                }
                await context.Response.Body.WriteAsync(buffer.AsMemory(0, n));
                sent += n;
            }
        });
        app.MapGet("/sse", async (HttpContext context, int n, int delayMs) =>
        {
            context.Response.ContentType = "text/event-stream";
            for (var i = 0; i < n; i++)
            {
                await context.Response.WriteAsync($"data: {i}\n\n");
                await context.Response.Body.FlushAsync();
                await Task.Delay(delayMs);
            }
        });
        async Task Echo(HttpContext context)
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = 400;
                return;
            }
            using var ws = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[4096];
            while (true)
            {
                var result = await ws.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    return;
                }
                var reply = Encoding.UTF8.GetBytes(name + ":" + Encoding.UTF8.GetString(buffer, 0, result.Count));
                await ws.SendAsync(reply, WebSocketMessageType.Text, true, CancellationToken.None);
            }
        }
        app.Map("/ws", Echo);
        app.Map("/live/ws", Echo);
        app.Map("/{**path}", (HttpRequest r) => $"{name} {r.Method} {r.Path}");
        await app.StartAsync();
        return new TestApp(app, name, port);
    }

    /// <summary>The byte at <paramref name="offset"/> of a <c>/download</c> body.</summary>
    public static byte Pattern(long offset) => (byte)(offset % 251);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
