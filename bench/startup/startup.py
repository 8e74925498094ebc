#!/usr/bin/env python3
"""Start-up time of litefs builds, measured in one run so they can be compared.

For each build (a name and the command that runs litefs), ROUNDS times, alternating builds:
  version  from exec to the exit of `litefs version`;
  mounted  from exec of `litefs mount -dev DIR` (a new, empty primary each round) until the mount
           is in /proc/mounts and the node API answers GET /info with 200 (polled every 0.5 ms);
  stop     from SIGTERM until the process has exited (unmounted).
Prints median, p90 and min in milliseconds per build and measure, and each build's median as a
ratio of the first build's.
"""
import http.client
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def mounted(path):
    with open("/proc/mounts") as mounts:
        return any(line.split()[1] == path for line in mounts)


def info_ok(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.2)
    try:
        conn.request("GET", "/info")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def time_version(cmd):
    start = time.perf_counter()
    subprocess.run(cmd + ["version"], check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def time_mount(cmd, port, work):
    root = tempfile.mkdtemp(prefix="node-", dir=work)
    mnt = os.path.join(root, "mnt")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd + ["mount", "-dev", root, "-dev-port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = start + 30
        while not (mounted(mnt) and info_ok(port)):
            if proc.poll() is not None:
                raise RuntimeError(f"litefs exited with {proc.returncode}: {proc.stderr.read().decode()}")
            if time.perf_counter() > deadline:
                raise RuntimeError("litefs did not mount and serve within 30 s")
            time.sleep(0.0005)
        ready = (time.perf_counter() - start) * 1000
        stop_start = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        stopped = (time.perf_counter() - stop_start) * 1000
        return ready, stopped
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if mounted(mnt):
            subprocess.run(["umount", "-l", mnt], check=False)
        shutil.rmtree(root, ignore_errors=True)


def summary(values):
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return statistics.median(ordered), p90, ordered[0]


def main():
    rounds = int(sys.argv[1])
    port = int(sys.argv[2])
    work = sys.argv[3]
    builds = [(sys.argv[i], sys.argv[i + 1].split()) for i in range(4, len(sys.argv), 2)]
    results = {name: {"version": [], "mounted": [], "stop": []} for name, _ in builds}
    for cmd in builds:  # warm the page cache and the runtime's files once
        time_version(cmd[1])
    for _ in range(rounds):
        for name, cmd in builds:
            results[name]["version"].append(time_version(cmd))
            ready, stopped = time_mount(cmd, port, work)
            results[name]["mounted"].append(ready)
            results[name]["stop"].append(stopped)
    base = builds[0][0]
    print(f"{'build':<22} {'measure':<8} {'median':>8} {'p90':>8} {'min':>8} {'ratio':>6}   ({rounds} rounds, ms)")
    for name, _ in builds:
        for measure in ("version", "mounted", "stop"):
            med, p90, low = summary(results[name][measure])
            ratio = med / statistics.median(results[base][measure])
            print(f"{name:<22} {measure:<8} {med:8.1f} {p90:8.1f} {low:8.1f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
