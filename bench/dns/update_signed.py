#!/usr/bin/env python3
"""One UPDATE on a signed 10,000-host zone, end to end: apps/dns hosted signs the
bench/dns zone (given unsigned) with a KSK and a ZSK made by ldns-keygen, then takes
N UPDATEs over UDP, each adding one A record, each timed from send to answer.

bench/dns/update_signed.py ecdsa|ed25519 off|on PATH-TO-RELEASE-dns [N=20]
(cargo build --release -p dns; the binary is target/release/dns). Works in
/tmp/upd/ALG-NSEC3; the server is stopped at the end."""
import os, socket, struct, subprocess, sys, time, statistics
d = "/tmp/upd/" + sys.argv[1] + "-" + sys.argv[2]
os.makedirs(d, exist_ok=True)
ZONE = "example.com"
alg = {"ecdsa": "ECDSAP256SHA256", "ed25519": "ED25519"}[sys.argv[1]]
nsec3 = sys.argv[2]
exe = sys.argv[3]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 20
with open(f"{d}/example.com.zone", "w") as f:
    f.write(f"$ORIGIN {ZONE}.\n$TTL 3600\n")
    f.write("@ IN SOA ns1 hostmaster 2026112701 7200 3600 1209600 3600\n")
    f.write("@ IN NS ns1\n@ IN NS ns2\nns1 IN A 192.0.2.1\nns2 IN A 192.0.2.2\n")
    f.write("@ IN MX 10 mail\nmail IN A 192.0.2.25\n@ IN A 192.0.2.80\n")
    f.write('@ IN TXT "v=spf1 mx -all"\nwww IN CNAME @\n')
    for i in range(10000):
        f.write(f"host{i} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n")
        if i % 4 == 0:
            f.write(f"host{i} IN AAAA 2001:db8::{i:x}\n")
        if i % 10 == 0:
            f.write(f"alias{i} IN CNAME host{i}\n")
    f.write("sub IN NS ns.sub\nns.sub IN A 192.0.2.53\n")
keys = [subprocess.run(["ldns-keygen", "-a", alg, *flag, ZONE], cwd=d, check=True,
        capture_output=True, text=True).stdout.strip() for flag in (["-k"], [])]
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
log = open(f"{d}/log", "w")
p = subprocess.Popen(["taskset", "-c", "0", exe, "--", f"--zone-file={d}/example.com.zone", f"--port={port}",
     "--update-allow=127.0.0.1", f"--nsec3={nsec3}",
     *[f"--sign-key={ZONE}/{d}/{k}.private" for k in keys]], stdout=log, stderr=log)
def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0"
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); sock.settimeout(30)
try:
    q = struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) + name(ZONE) + struct.pack(">HH", 6, 1)
    deadline = time.time() + 120
    while True:
        try:
            sock.sendto(q, ("127.0.0.1", port)); sock.settimeout(0.5); sock.recv(4096); break
        except OSError:
            assert time.time() < deadline, open(f"{d}/log").read()
    sock.settimeout(30)
    times = []
    for i in range(n):
        m = struct.pack(">HHHHHH", i, 0x2800, 1, 0, 1, 0) + name(ZONE) + struct.pack(">HH", 6, 1)
        m += name(f"new{i}.{ZONE}") + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, i % 250])
        t = time.perf_counter(); sock.sendto(m, ("127.0.0.1", port)); r = sock.recv(4096)
        times.append(time.perf_counter() - t)
        assert r[3] & 15 == 0, f"rcode {r[3] & 15}"
    ts = sorted(times)
    line = [l for l in open(f"{d}/log") if "signed 1 zone" in l]
    print(f"{alg} {nsec3}: load-time signing: {line[0].split('INFO')[1].strip() if line else '?'}; "
          f"{n} updates: mean {statistics.mean(times)*1e3:.0f} ms, p50 {ts[len(ts)//2]*1e3:.0f} ms, max {ts[-1]*1e3:.0f} ms")
finally:
    p.terminate(); p.wait()
