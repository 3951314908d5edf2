#!/usr/bin/env python3
"""A flood of refused requests on the control socket (BENCHMARKS.md): 16 connections of a
user off the staff list send license_cancel requests with a 60 KB license field for 10 s, and
one filing is dropped meanwhile. Usage: python3 scripts/socket_flood.py target/release/aim"""
import os, socket, subprocess, sys, tempfile, threading, time, shutil
aim = sys.argv[1]
T = tempfile.mkdtemp(prefix="aim-flood-")
for d in ("inbox/ACMEBRK", "outbox", "var"):
    os.makedirs(os.path.join(T, d), exist_ok=True)
cfg = os.path.join(T, "aim.toml")
open(cfg, "w").write(f'''inbox = "{T}/inbox"
outbox = "{T}/outbox"
data = "{T}/var"
[intake]
settle_ms = 200
[[partner]]
id = "ACMEBRK"
name = "Acme"
emails = ["f@acme.example"]
[[staff]]
user = "nobody-here"
role = "supervisor"
''')
err = open(os.path.join(T, "err"), "w")
p = subprocess.Popen([aim, "daemon", "--config", cfg], stderr=err)
sock = os.path.join(T, "var", "aim.sock")
while not os.path.exists(sock): time.sleep(0.1)
time.sleep(1)
def size(d):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs if os.path.isfile(os.path.join(r, f)))
before = size(os.path.join(T, "var"))
line = ('{"v":1,"id":1,"op":"license_cancel","reason":"x","license":"' + "7" * 61440 + '"}\n').encode()
stop = time.time() + 10
count = [0]
def flood():
    s = socket.socket(socket.AF_UNIX); s.connect(sock); f = s.makefile("rb")
    while time.time() < stop:
        s.sendall(line); f.readline(); count[0] += 1
ts = [threading.Thread(target=flood) for _ in range(16)]
for t in ts: t.start()
time.sleep(3)
subprocess.run([aim, "gen", "--sender", "ACMEBRK", "--count", "1", "--out", os.path.join(T, "inbox/ACMEBRK")], stderr=subprocess.DEVNULL)
t0 = time.time()
out = os.path.join(T, "outbox/ACMEBRK")
while not (os.path.isdir(out) and os.listdir(out)): time.sleep(0.01)
waited = time.time() - t0
for t in ts: t.join()
grown = size(os.path.join(T, "var")) - before
print(f"{count[0]} requests in 10 s; data folder +{grown/1048576:.1f} MiB; a filing waited {waited:.2f} s")
p.terminate(); p.wait(); shutil.rmtree(T)
