#!/usr/bin/env python3
"""Replication benchmark client (bench/replication/run.sh drives it; not a test).

  lag.py write PRIMARY_DB SECONDS RATE OUT      single-row INSERTs at RATE tx/s (0 = as fast as
                                                 possible) in WAL+NORMAL; writes "txid commit_ns"
                                                 lines (CLOCK_MONOTONIC, end of each COMMIT)
  lag.py watch API_URL DB TXID_LIMIT OUT        follows a replica's /events stream and writes
                                                 "txid seen_ns" the first time each TXID (or a
                                                 later one) is applied there
  lag.py report COMMITS SEEN...                 lag percentiles per replica from the two files
"""
import os
import sqlite3
import sys
import time


def write(db, seconds, rate, out):
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB)")
    pos = db + "-pos"
    records = []
    durations = []
    interval = 1.0 / rate if rate > 0 else 0.0
    start = time.monotonic()
    end = start + seconds
    n = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if interval:
            due = start + n * interval
            if now < due:
                time.sleep(due - now)
        b = time.monotonic_ns()
        con.execute("BEGIN")
        con.execute("INSERT INTO t (v) VALUES (randomblob(100))")
        con.execute("COMMIT")
        t = time.monotonic_ns()
        records.append(t)
        durations.append((t - b) / 1e6)
        n += 1
    with open(pos) as f:
        last = int(f.read().split("/")[0], 16)
    first = last - len(records) + 1
    with open(out, "w") as f:
        for i, t in enumerate(records):
            f.write(f"{first + i} {t}\n")
    elapsed = time.monotonic() - start
    print(f"{len(records)} transactions in {elapsed:.2f} s: {len(records) / elapsed:.0f} tx/s; "
          f"commit ms p50 {pct(durations, 50):.2f} p99 {pct(durations, 99):.2f}")


def watch(url, db, limit, out):
    # The replica's /events stream announces each applied file as it is applied: no polling, so
    # the watcher costs next to nothing on the cores the nodes share. A file of several
    # transactions (group commit) makes each of them visible at once.
    import http.client
    import json
    import signal
    import urllib.parse

    def stop(signum, frame):
        raise KeyboardInterrupt

    # run.sh stops a watcher with SIGTERM once the replicas caught up: a background job of a
    # script ignores SIGINT.
    signal.signal(signal.SIGTERM, stop)
    limit = int(limit)
    seen = []
    last = 0
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    conn.request("GET", "/events")
    resp = conn.getresponse()
    try:
        while last < limit:
            line = resp.readline()
            if not line:
                break
            t = time.monotonic_ns()
            event = json.loads(line)
            if event.get("type") != "tx" or event.get("db") != db:
                continue
            txid = int(event["data"]["txID"], 16)
            if txid > last:
                for i in range(last + 1, txid + 1):
                    seen.append((i, t))
                last = txid
    except KeyboardInterrupt:
        pass  # stopped by run.sh (SIGTERM)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # what was seen is written whatever comes now
    conn.close()
    with open(out, "w") as f:
        for i, t in seen:
            f.write(f"{i} {t}\n")


def pct(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


def report(commits, *seen_files):
    committed = dict(tuple(map(int, line.split())) for line in open(commits))
    for path in seen_files:
        seen = dict(tuple(map(int, line.split())) for line in open(path))
        lags = [(seen[t] - c) / 1e6 for t, c in committed.items() if t in seen]
        missing = len(committed) - len(lags)
        print(f"{os.path.basename(path)}: {len(lags)} tx observed, {missing} missing; lag ms p50 {pct(lags, 50):.2f} p99 {pct(lags, 99):.2f} max {max(lags):.2f}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "write":
        write(args[0], float(args[1]), float(args[2]), args[3])
    elif cmd == "watch":
        watch(*args)
    elif cmd == "report":
        report(*args)
    else:
        sys.exit(__doc__)
