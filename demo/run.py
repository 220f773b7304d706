"""`make demo`: check_dnsbl against rbldnsd on loopback, with bundled demo zones.

rbldnsd (the server real DNSBL mirrors run) serves zen.spamhaus.org,
b.barracudacentral.org and bl.spamcop.net from demo/zones, plus a dead list
that lists every address. check_dnsbl, from this checkout, asks it directly,
on the interpreter that runs this script (`make demo`: /usr/bin/python3 with
Debian's python3-nagiosplugin and python3-dnspython).
"""

import os
import subprocess
import sys
from pathlib import Path

ZONES = Path(__file__).with_name("zones")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the one DNS world of the tests, the benchmark and the demo
from tests.dnsworld import DnsWorld, DnsWorldError, Zone  # noqa: E402

LISTS = ["zen.spamhaus.org", "b.barracudacentral.org", "bl.spamcop.net"]
RUNS = [
    ("a clean address", ["-H", "192.0.2.1"]),
    ("a listed address", ["-H", "198.51.100.10"]),
    (
        "a dead list that lists everything",
        ["-H", "192.0.2.1", "-s", "zen.spamhaus.org", "-s", "dnsbl.dead.example"],
    ),
]


def demo_zones() -> list[Zone]:
    """demo/zones/NAME: rbldnsd ip4set data, ip4trie for the dead list's 0/0."""
    zones = []
    for path in sorted(ZONES.iterdir()):
        lines = tuple(path.read_text(encoding="utf-8").splitlines())
        dead = "dead" in path.name
        zones.append(Zone(path.name, ip4trie=lines) if dead else Zone(path.name, ip4=lines))
    return zones


def main() -> None:
    world = DnsWorld(demo_zones(), resolver=None)  # rbldnsd alone: no unbound needed
    try:
        world.start()
    except DnsWorldError as exc:
        raise SystemExit(f"rbldnsd did not start: {exc}") from None
    try:
        print(f"rbldnsd serving {len(world.zones)} demo zones on {world.rbldnsd}\n")
        for title, args in RUNS:
            lists = [] if "-s" in args else [a for z in LISTS for a in ("-s", z)]
            options = ["-n", world.rbldnsd, *args, *lists]
            argv = [sys.executable, "-m", "check_dnsbl", *options]
            print(f"--- {title}: check_dnsbl {' '.join(options)}")
            # history in the demo's own temp dir: each demo starts with none
            env = {**os.environ, "STATE_DIRECTORY": str(world.workdir), "PYTHONPATH": str(ROOT)}
            proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
            print(proc.stdout + proc.stderr, end="")
            print(f"(exit code {proc.returncode})\n")
    finally:
        world.stop()
        print("rbldnsd stopped")


if __name__ == "__main__":
    main()
