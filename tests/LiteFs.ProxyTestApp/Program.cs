using System.Globalization;
using LiteFs.ProxyTestApp;

// dotnet LiteFs.ProxyTestApp.dll NAME DB-PATH PORT: serves until SIGINT/SIGTERM.
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: LiteFs.ProxyTestApp NAME DB-PATH PORT");
    return 2;
}
await using var app = await TestApp.StartAsync(args[0], args[1], int.Parse(args[2], CultureInfo.InvariantCulture));
Console.WriteLine($"listening on {app.Url}");
var stop = new TaskCompletionSource();
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
await stop.Task;
return 0;
