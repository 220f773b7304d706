"""`make demo`: check_dnsbl against rbldnsd on loopback, with bundled demo zones.

rbldnsd (the server real DNSBL mirrors run) serves zen.spamhaus.org,
b.barracudacentral.org and bl.spamcop.net from demo/zones, plus a dead list
that lists every address. check_dnsbl, from this checkout, asks it directly,
on the interpreter that runs this script (`make demo`: /usr/bin/python3 with
Debian's python3-nagiosplugin and python3-dnspython).
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ZONES = Path(__file__).with_name("zones")
ROOT = Path(__file__).resolve().parent.parent
LISTS = ["zen.spamhaus.org", "b.barracudacentral.org", "bl.spamcop.net"]
RUNS = [
    ("a clean address", ["-H", "192.0.2.1"]),
    ("a listed address", ["-H", "198.51.100.10"]),
    (
        "a dead list that lists everything",
        ["-H", "192.0.2.1", "-s", "zen.spamhaus.org", "-s", "dnsbl.dead.example"],
    ),
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int) -> None:
    """Poll rbldnsd with a real query until it answers (at most 5 s)."""
    import dns.exception
    import dns.message
    import dns.query

    query = dns.message.make_query("2.0.0.127.zen.spamhaus.org", "A")
    deadline = time.monotonic() + 5
    while True:
        try:
            dns.query.udp(query, "127.0.0.1", port=port, timeout=0.2)
            return
        except (dns.exception.Timeout, OSError):
            if time.monotonic() > deadline:
                raise SystemExit("rbldnsd did not start") from None


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="check_dnsbl-demo-"))
    workdir.chmod(0o755)  # rbldnsd drops to its own user before reading
    for zone in ZONES.iterdir():
        shutil.copy(zone, workdir / zone.name)
        (workdir / zone.name).chmod(0o644)
    port = free_port()
    specs = [
        f"{z.name}:{'ip4trie' if 'dead' in z.name else 'ip4set'}:{z.name}" for z in ZONES.iterdir()
    ]
    rbldnsd = subprocess.Popen(
        [
            "/usr/sbin/rbldnsd",
            "-n",
            # rbldnsd refuses to run as root; as any other user it stays that user
            *(["-u", "rbldns"] if os.geteuid() == 0 else []),
            "-b",
            f"127.0.0.1/{port}",
            "-w",
            str(workdir),
            *specs,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port)
        print(f"rbldnsd serving {len(specs)} demo zones on 127.0.0.1:{port}\n")
        for title, args in RUNS:
            lists = [] if "-s" in args else [a for z in LISTS for a in ("-s", z)]
            options = ["-n", f"127.0.0.1:{port}", *args, *lists]
            argv = [sys.executable, "-m", "check_dnsbl", *options]
            print(f"--- {title}: check_dnsbl {' '.join(options)}")
            # history in the demo's own temp dir: each demo starts with none
            env = {**os.environ, "STATE_DIRECTORY": str(workdir), "PYTHONPATH": str(ROOT)}
            proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
            print(proc.stdout + proc.stderr, end="")
            print(f"(exit code {proc.returncode})\n")
    finally:
        rbldnsd.terminate()
        rbldnsd.wait()
        shutil.rmtree(workdir, ignore_errors=True)
        print("rbldnsd stopped")


if __name__ == "__main__":
    main()
