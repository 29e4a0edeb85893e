#!/usr/bin/env python3
"""Resident memory a fleet-coordinator spends per idle (never speaking) TCP connection.

    scripts/idle-connection-memory.py .build/release/fleet-coordinator 5000 \
        --max-connections 10000 --max-pending-handshakes 10000 \
        --max-pending-handshakes-per-address 10000 --handshake-timeout 120

Makes a throwaway PKI with the coordinator's own `certs` commands, starts
`serve` on 127.0.0.1 (port 0) with the extra arguments given, makes one
authenticated request (so lazily opened files are open), opens COUNT plain
TCP connections to 127.0.0.1 that never send a byte, waits 3 s, and prints
the VmRSS difference divided by the connections the server holds (its
/proc/<pid>/fd count difference). Only 127.0.0.1 is dialled. Needs curl and
an open-file limit above COUNT (the soft limit is raised to the hard one).
"""
import os, re, resource, shutil, socket, subprocess, sys, tempfile, time

binary, count, extra = os.path.abspath(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pki = tempfile.mkdtemp(prefix="idle-memory-")
for step in (["create-ca"], ["issue-server", "--ip", "127.0.0.1"], ["create-signing-key"], ["issue-node", "--node", "car-1"]):
    subprocess.run([binary, "certs"] + step, cwd=pki, check=True, stdout=subprocess.DEVNULL)
open(os.path.join(pki, "revoked.txt"), "w").close()
server = subprocess.Popen(
    [binary, "serve", "--port", "0", "--data-dir", "data", "--simulator", os.path.join(root, "Simulator"),
     "--log-level", "warning", "--gate-episodes-per-family", "1", "--gate-family", "cut-in"] + extra,
    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=pki)
port = None
for line in server.stdout:
    match = re.match(r"fleet-coordinator listening on .*:(\d+)", line)
    if match:
        port = int(match.group(1))
        break
if port is None:
    sys.exit("the coordinator did not start")

def rss():
    for line in open(f"/proc/{server.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024

def descriptors():
    return len(os.listdir(f"/proc/{server.pid}/fd"))

subprocess.run(["curl", "-sS", "-o", "/dev/null", "--cert", "car-1.pem", "--key", "car-1.key", "--cacert", "ca.pem",
                f"https://127.0.0.1:{port}/v1/status"], cwd=pki, check=True)
time.sleep(2)
rss_before, fds_before = rss(), descriptors()
sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
time.sleep(3)
rss_after, fds_after = rss(), descriptors()
held = max(fds_after - fds_before, 1)
print(f"{count} idle connections, {fds_after - fds_before} held by the server: VmRSS {rss_before / 1e6:.1f} -> "
      f"{rss_after / 1e6:.1f} MB, {(rss_after - rss_before) / held / 1024:.1f} KiB per held connection")
for s in sockets:
    s.close()
server.terminate()
server.wait()
shutil.rmtree(pki, ignore_errors=True)
