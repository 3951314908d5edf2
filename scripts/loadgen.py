#!/usr/bin/env python3
"""Load generator for the AIM daemon: measures end-to-end intake on this machine.

One command runs every row of the performance table (README, "Measuring"):

  python3 scripts/loadgen.py scenario            # all rows, 3 runs of each timed row
  python3 scripts/loadgen.py scenario --quick    # smaller N: a check in a few minutes

Two binaries, every row, runs alternating (old, new, old, new):

  python3 scripts/loadgen.py compare --old target/baseline/aim --new target/release/aim

Single measurements:

  burst:    N files of K applications moved into the inbox at once: files/s, applications/s,
            latency rename -> ack visible (p50/p95/p99), daemon peak RSS, and the ratio to
            `xmllint --noout` over the same bytes in the same run.
  rate:     files moved in at a fixed rate: latency p50/p95/p99/max.
  rss:      N one-application files in chunks; RSS (VmRSS, VmHWM) sampled at checkpoints.
  big:      one file just under the size limit with `max_applications` raised: how much it
            raises the daemon's peak RSS, against `aim validate` of the same file.
  validate: `aim validate` of one ~9.6 MB file, whole process, against `xmllint --noout`.
  startup:  N licenses put on record, then the daemon restarted: start -> ready.

Files are made by `aim gen --seed` (the same seed and day give the same bytes), moved into
the inbox of a daemon (--bin, default target/release/aim) on a fresh data folder in a
temporary folder; everything is local files, every loop is bounded, and the daemon is stopped
at the end. AIM_LOAD_EXTRA is appended to the daemon's config (e.g. a [mail] table).
"""
import argparse
import datetime
import os
import pwd
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SENDER = "LOADBRK"
BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "aim")


def today():
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


def need_xmllint():
    if shutil.which("xmllint") is None:
        sys.exit("xmllint is missing: sudo apt-get install -y libxml2-utils")


# ---------------------------------------------------------------------------------------------
# processes


def run_measured(cmd):
    """Run a command to its end: (seconds, peak RSS in MiB of that process)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return secs, ru.ru_maxrss / 1024


def proc_status(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Daemon:
    """A daemon on a data folder under `tmp` (kept between starts, so a restart sees it)."""

    def __init__(self, a, tmp, intake_extra=""):
        self.a, self.tmp = a, tmp
        self.cfg = os.path.join(tmp, "aim.toml")
        self.log = os.path.join(tmp, "daemon.log")
        with open(self.cfg, "w") as f:
            f.write(
                f"""inbox = "{tmp}/inbox"
outbox = "{tmp}/outbox"
data = "{tmp}/var"
[intake]
settle_ms = 500
rescan_secs = 30
{intake_extra}
{os.environ.get("AIM_LOAD_EXTRA", "")}
[[partner]]
id = "{SENDER}"
name = "Load Test Brokerage"
emails = ["load@example.test"]
[[staff]]
user = "{pwd.getpwuid(os.getuid()).pw_name}"
role = "viewer"
"""
            )
        self.inbox = os.path.join(tmp, "inbox", SENDER)
        self.outbox = os.path.join(tmp, "outbox", SENDER)
        self.archive = os.path.join(tmp, "var", "archive")
        self.p = None

    def start(self, timeout=600, answer=False):
        """Start and wait until intake runs: seconds from spawn to the log's `intake started`.
        With `answer`, `self.answered` is then the seconds from spawn to the first answer of
        `aim status` (the user running this is on the staff list as a viewer)."""
        log = open(self.log, "w")
        t0 = time.perf_counter()
        self.answered = None
        self.p = subprocess.Popen([self.a.bin, "daemon", "--config", self.cfg], stderr=log, stdout=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while True:
            with open(self.log, errors="replace") as f:
                if "intake started" in f.read():
                    break
            if self.p.poll() is not None:
                sys.exit(f"the daemon stopped at start: see {self.log}")
            if time.time() > deadline:
                self.stop()
                sys.exit("the daemon did not start in time")
            time.sleep(0.002)
        ready = time.perf_counter() - t0
        while answer and self.answered is None:
            if time.time() > deadline:
                self.stop()
                sys.exit("the daemon did not answer `aim status` in time")
            if subprocess.run([self.a.bin, "status", "--config", self.cfg], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0:
                self.answered = time.perf_counter() - t0
        return ready

    def rss(self):
        return proc_status(self.p.pid, "VmRSS")

    def hwm(self):
        return proc_status(self.p.pid, "VmHWM")

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def generate(a, out, files, apps, seed):
    subprocess.run(
        [a.bin, "gen", "--sender", SENDER, "--count", str(files), "--apps-per-file", str(apps),
         "--seed", str(seed), "--today", today(), "--out", out],
        check=True, stdout=subprocess.DEVNULL,
    )
    return sorted(n for n in os.listdir(out) if n.endswith(".xml"))


def ack_of(name):
    return name[:-4] + ".ack.xml"


def wait_for(paths, timeout, poll=0.005):
    """Wait until every path exists (checked in order, so each is looked at until it appears)."""
    deadline = time.time() + timeout
    i = 0
    while i < len(paths):
        if os.path.exists(paths[i]):
            i += 1
            continue
        if time.time() > deadline:
            return False
        time.sleep(poll)
    return True


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def span(values, fmt="{:.0f}"):
    lo, hi = min(values), max(values)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}–{fmt.format(hi)}"


# ---------------------------------------------------------------------------------------------
# measurements


def xmllint_secs(paths, runs=3):
    """Median time of one `xmllint --noout` process over all the files."""
    need_xmllint()
    times = []
    for _ in range(runs):
        secs, _ = run_measured(["xmllint", "--noout", *paths])
        times.append(secs)
    return statistics.median(times)


def burst(a, files, apps, xmllint=True, quiet=False):
    """One burst on a fresh daemon. Returns the figures as a dict."""
    tmp = tempfile.mkdtemp(prefix="aim-load-")
    d = None
    try:
        master = os.path.join(tmp, "staging")
        names = generate(a, master, files, apps, a.seed)
        paths = [os.path.join(master, n) for n in names]
        size = sum(os.path.getsize(p) for p in paths)
        xl = xmllint_secs(paths) if xmllint else None
        d = Daemon(a, tmp)
        d.start()
        outbox = d.outbox
        moved, seen = {}, {}
        done = threading.Event()

        def watch():
            # The broker's view: when the ack is visible in the outbox.
            while not done.is_set():
                now = time.perf_counter()
                for n in os.listdir(outbox):
                    if n not in seen and n.endswith(".ack.xml"):
                        seen[n] = now
                time.sleep(0.002)

        w = threading.Thread(target=watch, daemon=True)
        w.start()
        t0 = time.perf_counter()
        for n in names:
            moved[n] = time.perf_counter()
            os.rename(os.path.join(master, n), os.path.join(d.inbox, n))
        ok = wait_for([os.path.join(outbox, ack_of(n)) for n in names], a.timeout)
        time.sleep(0.01)
        done.set()
        w.join()
        hwm = d.hwm()
        d.stop()
        if not ok:
            sys.exit("not every file got its ack in time")
        t1 = max(seen.get(ack_of(n), time.perf_counter()) for n in names)
        secs = t1 - t0
        lat = [(seen[ack_of(n)] - t) * 1000 for n, t in moved.items() if ack_of(n) in seen]
        r = {
            "files": len(names), "apps": apps, "mb": size / 1e6, "secs": secs,
            "files_s": len(names) / secs, "apps_s": len(names) * apps / secs,
            "p50": pct(lat, 0.5), "p95": pct(lat, 0.95), "p99": pct(lat, 0.99),
            "hwm": hwm, "xmllint": xl, "ratio": secs / xl if xl else None,
        }
        if not quiet:
            line = (f"burst {r['files']}×{apps}: {r['mb']:.1f} MB in {secs:.2f} s: {r['files_s']:.0f} files/s, "
                    f"{r['apps_s']:.0f} applications/s; latency p50 {r['p50']:.0f} ms, p95 {r['p95']:.0f} ms, "
                    f"p99 {r['p99']:.0f} ms; peak RSS {hwm:.1f} MiB")
            if xl:
                line += (f"; xmllint --noout {xl:.2f} s ({xl / len(names) * 1000:.1f} ms a file): "
                         f"ratio {r['ratio']:.1f}×")
            print(line, flush=True)
        return r
    finally:
        if d:
            d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def rate(a):
    tmp = tempfile.mkdtemp(prefix="aim-load-")
    d = None
    try:
        staging = os.path.join(tmp, "staging")
        names = generate(a, staging, int(a.rate * a.seconds), a.apps, a.seed)
        d = Daemon(a, tmp)
        d.start()
        moved, seen = {}, {}
        done = threading.Event()

        def watch():
            while not done.is_set():
                now = time.perf_counter()
                for n in os.listdir(d.outbox):
                    if n.endswith(".ack.xml") and n not in seen:
                        seen[n] = now
                time.sleep(0.001)

        w = threading.Thread(target=watch, daemon=True)
        w.start()
        interval = 1.0 / a.rate
        start = time.perf_counter()
        for i, n in enumerate(names):
            target = start + i * interval
            now = time.perf_counter()
            if target > now:
                time.sleep(target - now)
            moved[n] = time.perf_counter()
            os.rename(os.path.join(staging, n), os.path.join(d.inbox, n))
        ok = wait_for([os.path.join(d.outbox, ack_of(n)) for n in names], a.timeout)
        time.sleep(0.05)
        done.set()
        w.join()
        hwm = d.hwm()
        d.stop()
        if not ok:
            sys.exit("not every file got its ack in time")
        lat = [(seen[ack_of(n)] - t) * 1000 for n, t in moved.items()]
        print(f"rate: {len(lat)} files at {a.rate}/s, {a.apps} application(s) each: latency rename→ack "
              f"p50 {pct(lat, .5):.1f} ms, p95 {pct(lat, .95):.1f} ms, p99 {pct(lat, .99):.1f} ms, "
              f"max {max(lat):.1f} ms; peak RSS {hwm:.1f} MiB", flush=True)
    finally:
        if d:
            d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def feed(a, d, staging, names, chunk, on_chunk=None):
    """Move files in, `chunk` at a time, each chunk waited for; its acks are then taken away
    (as a broker would), so the outbox stays small."""
    done = 0
    for i in range(0, len(names), chunk):
        part = names[i:i + chunk]
        for n in part:
            os.rename(os.path.join(staging, n), os.path.join(d.inbox, n))
        if not wait_for([os.path.join(d.outbox, ack_of(n)) for n in part], a.timeout):
            sys.exit("not every file got its ack in time")
        for n in part:
            os.remove(os.path.join(d.outbox, ack_of(n)))
        done += len(part)
        if on_chunk:
            on_chunk(done)


def rss(a, n, checkpoints):
    """N one-application files through one daemon, RSS sampled at the checkpoints."""
    tmp = tempfile.mkdtemp(prefix="aim-load-")
    d = None
    try:
        staging = os.path.join(tmp, "staging")
        t = time.perf_counter()
        names = generate(a, staging, n, 1, a.seed)
        print(f"rss: {n} one-application files made in {time.perf_counter() - t:.0f} s", flush=True)
        d = Daemon(a, tmp)
        d.start()
        samples = []
        t0 = time.perf_counter()
        marks = sorted({c for c in checkpoints if c <= n})

        def sample(done):
            while marks and done >= marks[0]:
                marks.pop(0)
                samples.append((done, d.rss(), d.hwm(), time.perf_counter() - t0))
                print(f"  after {done:>7} files: RSS {samples[-1][1]:.1f} MiB, peak {samples[-1][2]:.1f} MiB, "
                      f"{done / samples[-1][3]:.0f} files/s so far", flush=True)

        feed(a, d, staging, names, 1000, sample)
        secs = time.perf_counter() - t0
        d.stop()
        first, last = samples[0], samples[-1]
        growth = (last[2] - first[2]) * 1024 / max(1, last[0] - first[0])
        print(f"rss: {n} files in {secs:.0f} s ({n / secs:.0f} files/s); peak RSS "
              + ", ".join(f"{s[2]:.1f} MiB at {s[0]}" for s in samples)
              + f"; growth {growth:.2f} KiB a file between {first[0]} and {last[0]}", flush=True)
        return samples
    finally:
        if d:
            d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def big(a, apps=None):
    """One file just under the 32 MiB size limit with max_applications raised to 40,000."""
    tmp = tempfile.mkdtemp(prefix="aim-load-")
    d = None
    try:
        limit = 32 * 1024 * 1024
        if apps is None:
            probe = os.path.join(tmp, "probe")
            generate(a, probe, 1, 1000, a.seed)
            per = os.path.getsize(os.path.join(probe, os.listdir(probe)[0])) / 1000
            apps = min(40_000, int(limit * 0.97 / per))
        staging = os.path.join(tmp, "staging")
        names = generate(a, staging, 1, apps, a.seed)
        path = os.path.join(staging, names[0])
        size = os.path.getsize(path)
        if size > limit:
            sys.exit(f"{size} bytes is over the 32 MiB limit: pass a smaller --apps")
        d = Daemon(a, tmp, "max_applications = 40000")
        v_cmd = [a.bin, "validate", "--config", d.cfg, "--today", today(), "--sender", SENDER,
                 "--out", os.path.join(tmp, "vout"), path]
        check_accepted(v_cmd)
        v_secs, v_rss = run_measured(v_cmd)
        x_secs, x_rss = run_measured(["xmllint", "--noout", path])
        d.start()
        time.sleep(0.5)
        before = d.hwm()
        t0 = time.perf_counter()
        os.rename(path, os.path.join(d.inbox, names[0]))
        ok = wait_for([os.path.join(d.outbox, ack_of(names[0]))], a.timeout, poll=0.01)
        secs = time.perf_counter() - t0
        after = d.hwm()
        d.stop()
        if not ok:
            sys.exit("no ack in time")
        r = {"apps": apps, "mib": size / 2**20, "before": before, "after": after, "secs": secs,
             "validate_rss": v_rss, "validate_secs": v_secs, "xmllint_secs": x_secs, "xmllint_rss": x_rss}
        print(f"big: one file of {apps} applications, {r['mib']:.1f} MiB: rename→ack {secs:.2f} s; daemon peak RSS "
              f"{before:.1f} → {after:.1f} MiB (+{after - before:.0f} MiB); aim validate {v_secs:.2f} s, peak "
              f"{v_rss:.0f} MiB; xmllint --noout {x_secs:.2f} s, peak {x_rss:.0f} MiB", flush=True)
        return r
    finally:
        if d:
            d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def check_accepted(cmd):
    """Run `aim validate` once: the file must be accepted, or the timing would measure a file
    refused before its applications are judged."""
    out = subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()
    if not out or ": accepted" not in out[-1]:
        sys.exit(f"aim validate did not accept the generated file: {out[-1:]}")


def validate(a, apps=6000, runs=5):
    """`aim validate` of one file, whole process, against xmllint --noout, interleaved."""
    need_xmllint()
    tmp = tempfile.mkdtemp(prefix="aim-load-")
    try:
        staging = os.path.join(tmp, "staging")
        names = generate(a, staging, 1, apps, a.seed)
        path = os.path.join(staging, names[0])
        size = os.path.getsize(path)
        # The daemon's configuration (LOADBRK registered), so that the rules judge every
        # application instead of stopping at F003.
        cfg = Daemon(a, tmp).cfg
        v_cmd = [a.bin, "validate", "--config", cfg, "--today", today(), "--sender", SENDER,
                 "--out", os.path.join(tmp, "out"), path]
        check_accepted(v_cmd)
        v, x = [], []
        for _ in range(runs):
            v.append(run_measured(v_cmd))
            x.append(run_measured(["xmllint", "--noout", path]))
        vs, xs = statistics.median(t for t, _ in v), statistics.median(t for t, _ in x)
        r = {"mb": size / 1e6, "apps": apps, "validate": vs, "xmllint": xs, "ratio": vs / xs,
             "validate_rss": max(m for _, m in v), "xmllint_rss": max(m for _, m in x)}
        print(f"validate: {r['mb']:.1f} MB, {apps} applications: aim validate {vs:.3f} s (median of {runs}), "
              f"peak {r['validate_rss']:.0f} MiB; xmllint --noout {xs:.3f} s, peak {r['xmllint_rss']:.0f} MiB; "
              f"ratio {r['ratio']:.2f}×", flush=True)
        return r
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def startup(a, licenses, runs=3):
    """Put `licenses` on record (files of 1,000 applications), then restart: start → ready."""
    tmp = tempfile.mkdtemp(prefix="aim-load-")
    d = None
    try:
        d = Daemon(a, tmp)
        d.start()
        per, chunk = 1000, 20
        files = max(1, licenses // per)
        t0 = time.perf_counter()
        made = 0
        for c in range(0, files, chunk):
            k = min(chunk, files - c)
            staging = os.path.join(tmp, f"staging{c}")
            # a seed per chunk: disjoint control numbers (aim gen --help)
            names = generate(a, staging, k, per, (a.seed + 1 + c // chunk) % 1000)
            feed(a, d, staging, names, k)
            shutil.rmtree(staging, ignore_errors=True)
            made += k * per
            if (c // chunk) % 10 == 9:
                print(f"  {made} licenses on record, {time.perf_counter() - t0:.0f} s", flush=True)
        d.stop()
        db = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(os.path.join(tmp, "var", "db")) for f in fs)
        times = []
        answered = []
        for _ in range(runs):
            times.append(d.start(answer=True))
            answered.append(d.answered)
            times[-1] = (times[-1], d.hwm(), d.answered)
            d.stop()
        print(f"startup: {made} licenses on record (database {db / 2**20:.0f} MiB, made in "
              f"{time.perf_counter() - t0:.0f} s): start → ready {span([t for t, _, _ in times], '{:.2f}')} s, "
              f"→ answering `aim status` {span(answered, '{:.2f}')} s "
              f"over {runs} starts; peak RSS at ready {span([m for _, m, _ in times], '{:.1f}')} MiB", flush=True)
        return times
    finally:
        if d:
            d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def scenario(a):
    """The performance table's rows, each timed row `--runs` times."""
    print(f"scenario: seed {a.seed}, {a.runs} runs a row, {os.cpu_count()} cores, bin {a.bin}", flush=True)
    n_rss = a.rss_files or (20_000 if a.quick else 100_000)
    n_lic = a.licenses or (100_000 if a.quick else 1_000_000)
    rows = []
    r = [burst(a, 40, 1000) for _ in range(a.runs)]
    rows.append(("40 files × 1,000 applications, rename → last ack, vs xmllint --noout", "≤ 3×",
                 f"{span([x['ratio'] for x in r], '{:.1f}')}× ({span([x['secs'] * 1000 / 40 for x in r])} ms a file; "
                 f"p99 {span([x['p99'] for x in r])} ms; peak {span([x['hwm'] for x in r])} MiB)"))
    rows.append(("peak RSS with 1,000-application files", "< 64 MiB", f"{span([x['hwm'] for x in r], '{:.0f}')} MiB"))
    v = [validate(a) for _ in range(a.runs)]
    rows.append(("aim validate, 6,000 applications, whole process, vs xmllint --noout", "≤ 1×",
                 f"{span([x['ratio'] for x in v], '{:.2f}')}× ({span([x['validate'] for x in v], '{:.2f}')} s vs "
                 f"{span([x['xmllint'] for x in v], '{:.2f}')} s; peak {span([x['validate_rss'] for x in v])} MiB)"))
    b = [burst(a, 3000, 1, xmllint=False) for _ in range(a.runs)]
    rows.append(("3,000 one-application files at once", "≥ 2,000 files/s",
                 f"{span([x['files_s'] for x in b])} files/s (p99 {span([x['p99'] for x in b])} ms)"))
    s = rss(a, n_rss, [5_000, 20_000, 50_000, 100_000, n_rss])
    rows.append((f"daemon peak RSS over {n_rss} one-application files", "< 64 MiB, flat",
                 ", ".join(f"{x[2]:.0f} MiB at {x[0]}" for x in s)))
    g = big(a, a.big_apps)
    rows.append((f"one {g['mib']:.1f} MiB file ({g['apps']} applications)", "raises peak RSS ≤ its size",
                 f"+{g['after'] - g['before']:.0f} MiB (aim validate: {g['validate_rss']:.0f} MiB peak)"))
    t = startup(a, n_lic)
    rows.append((f"{n_lic} licenses on record: start → ready", "< 1 s", f"{span([x for x, _, _ in t], '{:.2f}')} s"))
    print("\n| what | target | measured |\n|---|---|---|")
    for w, tgt, m in rows:
        print(f"| {w} | {tgt} | {m} |")


def compare(a):
    """Every row of the table for two binaries, runs alternating (old, new, old, new, …) in the
    same session, so both meet the same machine. Prints one table: row, target, old, new."""
    import copy
    bins = {"old": os.path.abspath(a.old), "new": os.path.abspath(a.new)}
    for b in bins.values():
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} is missing")
    print(f"compare: seed {a.seed}, {a.runs} runs a row each, {os.cpu_count()} cores; old {bins['old']}, "
          f"new {bins['new']}", flush=True)
    n_rss = a.rss_files or (20_000 if a.quick else 100_000)
    n_lic = a.licenses or (100_000 if a.quick else 1_000_000)

    def each(f, runs=a.runs):
        got = {"old": [], "new": []}
        for _ in range(runs):
            for which, b in bins.items():
                aa = copy.copy(a)
                aa.bin = b
                print(f"[{which}] ", end="", flush=True)
                got[which].append(f(aa))
        return got

    rows = []
    r = each(lambda aa: burst(aa, 40, 1000))
    rows.append(("40 files × 1,000 applications, rename → last ack, / xmllint --noout", "≤ 3×",
                 {k: f"{span([x['ratio'] for x in v], '{:.1f}')}× ({span([x['apps_s'] for x in v])} applications/s)"
                  for k, v in r.items()}))
    rows.append(("daemon peak RSS with 1,000-application files", "< 64 MiB",
                 {k: f"{span([x['hwm'] for x in v], '{:.0f}')} MiB" for k, v in r.items()}))
    g = each(lambda aa: big(aa, a.big_apps), 1)
    rows.append(("one 32 MiB file: what it adds to peak RSS", "≤ its own size",
                 {k: f"+{v[0]['after'] - v[0]['before']:.0f} MiB for {v[0]['mib']:.1f} MiB, rename → ack {v[0]['secs']:.1f} s"
                  for k, v in g.items()}))
    v = each(lambda aa: validate(aa))
    rows.append(("`aim validate`, 6,000 applications, whole process / xmllint", "≤ 1.0×",
                 {k: f"{span([x['ratio'] for x in w], '{:.2f}')}× ({span([x['validate_rss'] for x in w])} MiB)"
                  for k, w in v.items()}))
    b = each(lambda aa: burst(aa, 3000, 1, xmllint=False))
    rows.append(("3,000 one-application files at once", "≥ 2,000 files/s",
                 {k: f"{span([x['files_s'] for x in w])} files/s" for k, w in b.items()}))
    s = each(lambda aa: rss(aa, n_rss, [5_000, 20_000, 50_000, 100_000, n_rss]), 1)
    rows.append((f"daemon RSS over {n_rss:,} one-application files", "< 64 MiB and flat",
                 {k: ", ".join(f"{x[1]:.0f} MiB at {x[0]:,}" for x in w[0]) for k, w in s.items()}))
    t = each(lambda aa: startup(aa, n_lic), 1)
    rows.append((f"{n_lic:,} licenses: `aim daemon` start → answering `aim status`", "< 1 s",
                 {k: f"{span([x[2] for x in w[0]], '{:.2f}')} s (RSS {span([x[1] for x in w[0]], '{:.0f}')} MiB)"
                  for k, w in t.items()}))
    print("\n| figure | goal | old | new |\n|---|---|---|---|")
    for w, tgt, m in rows:
        print(f"| {w} | {tgt} | {m['old']} | {m['new']} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=BIN)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for acks")
    sub = p.add_subparsers(dest="mode", required=True)
    b = sub.add_parser("burst")
    b.add_argument("--files", type=int, default=2000)
    b.add_argument("--apps", type=int, default=1)
    b.add_argument("--no-xmllint", action="store_true")
    r = sub.add_parser("rate")
    r.add_argument("--rate", type=float, default=200)
    r.add_argument("--seconds", type=float, default=10)
    r.add_argument("--apps", type=int, default=1)
    s = sub.add_parser("rss")
    s.add_argument("--files", type=int, default=100_000)
    g = sub.add_parser("big")
    g.add_argument("--apps", type=int, default=None, help="default: as many as fit in 32 MiB")
    v = sub.add_parser("validate")
    v.add_argument("--apps", type=int, default=6000)
    u = sub.add_parser("startup")
    u.add_argument("--licenses", type=int, default=1_000_000)
    c = sub.add_parser("scenario")
    c.add_argument("--runs", type=int, default=3, help="runs of each timed row")
    c.add_argument("--quick", action="store_true", help="20,000 files for RSS, 100,000 licenses for start")
    c.add_argument("--rss-files", type=int, default=None)
    c.add_argument("--licenses", type=int, default=None)
    c.add_argument("--big-apps", type=int, default=None)
    m = sub.add_parser("compare", help="every row for two binaries, runs alternating")
    m.add_argument("--old", required=True)
    m.add_argument("--new", required=True)
    m.add_argument("--runs", type=int, default=2, help="runs of each timed row, per binary")
    m.add_argument("--quick", action="store_true", help="20,000 files for RSS, 100,000 licenses for start")
    m.add_argument("--rss-files", type=int, default=None)
    m.add_argument("--licenses", type=int, default=None)
    m.add_argument("--big-apps", type=int, default=None)
    a = p.parse_args()
    a.bin = os.path.abspath(a.bin)
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"{a.bin} is missing: cargo build --release")
    if a.mode == "burst":
        burst(a, a.files, a.apps, xmllint=not a.no_xmllint)
    elif a.mode == "rate":
        rate(a)
    elif a.mode == "rss":
        rss(a, a.files, [5_000, 20_000, 50_000, 100_000, a.files])
    elif a.mode == "big":
        big(a, a.apps)
    elif a.mode == "validate":
        validate(a, a.apps)
    elif a.mode == "startup":
        startup(a, a.licenses)
    elif a.mode == "compare":
        compare(a)
    else:
        scenario(a)


if __name__ == "__main__":
    main()
