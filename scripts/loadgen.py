#!/usr/bin/env python3
"""Load generator for the AIM daemon: measures end-to-end intake on this machine.

  burst: N files of K applications moved into the inbox at once; files/s and applications/s
         from the first rename to the last ack.
  rate:  files moved in at a fixed rate; latency from each rename into the inbox to its ack
         being visible in the outbox (polled every millisecond), reported as p50/p99/max.

Both report the daemon's peak RSS (VmHWM). AIM_LOAD_EXTRA is appended to the daemon's config
(e.g. a [mail] table) to measure other settings. Everything runs in a temporary folder on loopback
file systems only; the daemon binary is --bin (default target/release/aim).

  python3 scripts/loadgen.py burst --files 2000 --apps 1
  python3 scripts/loadgen.py burst --files 20 --apps 1000
  python3 scripts/loadgen.py rate --rate 200 --seconds 10
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time


def setup(tmp, bin_path):
    cfg = os.path.join(tmp, "aim.toml")
    with open(cfg, "w") as f:
        f.write(
            f"""inbox = "{tmp}/inbox"
outbox = "{tmp}/outbox"
data = "{tmp}/var"
[intake]
settle_ms = 500
rescan_secs = 30
{os.environ.get("AIM_LOAD_EXTRA", "")}
[[partner]]
id = "LOADBRK"
name = "Load Test Brokerage"
emails = ["load@example.test"]
"""
        )
    d = subprocess.Popen([bin_path, "daemon", "--config", cfg], stderr=open(os.path.join(tmp, "daemon.log"), "w"))
    inbox = os.path.join(tmp, "inbox", "LOADBRK")
    deadline = time.time() + 20
    while not os.path.isdir(inbox):
        if time.time() > deadline:
            sys.exit("daemon did not start")
        time.sleep(0.05)
    time.sleep(0.3)
    return d, inbox, os.path.join(tmp, "outbox", "LOADBRK")


def generate(bin_path, staging, files, apps, seed):
    subprocess.run(
        [bin_path, "gen", "--sender", "LOADBRK", "--count", str(files), "--apps-per-file", str(apps),
         "--seed", str(seed), "--out", staging],
        check=True,
    )
    return sorted(n for n in os.listdir(staging) if n.endswith(".xml"))


def peak_rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def wait_acks(outbox, n, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len([x for x in os.listdir(outbox) if x.endswith(".ack.xml")]) >= n:
            return True
        time.sleep(0.005)
    return False


def stop(d):
    d.send_signal(signal.SIGTERM)
    d.wait(timeout=30)


def burst(a):
    tmp = tempfile.mkdtemp(prefix="aim-load-")
    try:
        staging = os.path.join(tmp, "staging")
        names = generate(a.bin, staging, a.files, a.apps, a.seed)
        size = sum(os.path.getsize(os.path.join(staging, n)) for n in names)
        d, inbox, outbox = setup(tmp, a.bin)
        t0 = time.time()
        for n in names:
            os.rename(os.path.join(staging, n), os.path.join(inbox, n))
        ok = wait_acks(outbox, len(names), a.timeout)
        t1 = time.time()
        rss = peak_rss_mib(d.pid)
        stop(d)
        if not ok:
            sys.exit("not every file got its ack in time")
        secs = t1 - t0
        print(f"burst: {len(names)} files x {a.apps} applications ({size / 1e6:.1f} MB) in {secs:.2f} s: "
              f"{len(names) / secs:.0f} files/s, {len(names) * a.apps / secs:.0f} applications/s, "
              f"{size / 1e6 / secs:.1f} MB/s; peak RSS {rss:.1f} MiB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def rate(a):
    tmp = tempfile.mkdtemp(prefix="aim-load-")
    try:
        staging = os.path.join(tmp, "staging")
        n_files = int(a.rate * a.seconds)
        names = generate(a.bin, staging, n_files, a.apps, a.seed)
        d, inbox, outbox = setup(tmp, a.bin)
        moved = {}
        seen = {}
        done = threading.Event()

        def watch():
            # The broker's view: when the ack is visible in the outbox (polled every ms).
            while not done.is_set():
                now = time.time_ns()
                for n in os.listdir(outbox):
                    if n.endswith(".ack.xml") and n not in seen:
                        seen[n] = now
                time.sleep(0.001)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        interval = 1.0 / a.rate
        start = time.time()
        for i, n in enumerate(names):
            target = start + i * interval
            now = time.time()
            if target > now:
                time.sleep(target - now)
            moved[n] = time.time_ns()
            os.rename(os.path.join(staging, n), os.path.join(inbox, n))
        ok = wait_acks(outbox, len(names), a.timeout)
        time.sleep(0.05)
        done.set()
        watcher.join()
        rss = peak_rss_mib(d.pid)
        stop(d)
        if not ok:
            sys.exit("not every file got its ack in time")
        lat = sorted((seen[n[:-4] + ".ack.xml"] - t) / 1e6 for n, t in moved.items())
        pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
        print(f"rate: {len(lat)} files at {a.rate}/s, {a.apps} application(s) each: latency rename→ack "
              f"p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, max {lat[-1]:.1f} ms; peak RSS {rss:.1f} MiB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "aim"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=600)
    sub = p.add_subparsers(dest="mode", required=True)
    b = sub.add_parser("burst")
    b.add_argument("--files", type=int, default=2000)
    b.add_argument("--apps", type=int, default=1)
    r = sub.add_parser("rate")
    r.add_argument("--rate", type=float, default=200)
    r.add_argument("--seconds", type=float, default=10)
    r.add_argument("--apps", type=int, default=1)
    a = p.parse_args()
    burst(a) if a.mode == "burst" else rate(a)


if __name__ == "__main__":
    main()
