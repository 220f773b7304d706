"""The benchmark's DNS world: ``tests/world.py``'s ``DnsWorld`` at fixed
addresses inside a private network namespace, with its delay relay.

``enter_netns()`` re-executes the calling script under ``unshare --net
--mount``: the new namespace has nothing but ``lo``, so no benchmark packet can
leave the machine, and port 53 of any 127.0.0.0/8 address is free (check_rbl's
``-n`` takes no port). A private ``/etc/resolv.conf`` names our unbound, so
even check_rbl's reverse lookup of the checked address stays inside.

Layout (all UDP, all in the namespace)::

    plugin -> unbound 127.53.0.1:53 (no cache, stock settings) -> relay
    127.53.0.3:53 (+delay, drops DEAD_ZONE) -> rbldnsd 127.53.0.2:53

This module adds only what is the benchmark's own: the namespace, the zone
layout of the scenarios and the check that the world behaves as specified.
"""

import contextlib
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.rcode
import dns.rdatatype

from tests.dnsworld import DnsWorld, Relay, Zone, dns_query

NETNS_MARK = "CHECK_DNSBL_BENCH_NETNS"
RESOLVER = "127.53.0.1"
RBLDNSD = "127.53.0.2"
RELAY = "127.53.0.3"
RELAY_CONTROL = f"{RELAY}:54"
REPO = Path(__file__).resolve().parent.parent

#: The benchmark's test network, every address of which the /24 scenario checks.
NETWORK = ipaddress.IPv4Network("192.0.2.0/24")
#: The single address of the one-address scenarios: listed on the first 3 lists.
ADDRESS = ipaddress.IPv4Address("192.0.2.10")
ADDRESS_LISTINGS = 3
DEAD_ZONE = "dead.bench.test"


class WorldError(RuntimeError):
    """The world does not behave as specified."""


def zone_name(i: int) -> str:
    return f"bl{i:02d}.bench.test"


def zone_listings(i: int) -> tuple[ipaddress.IPv4Address, ...]:
    """Addresses of NETWORK listed on zone ``i`` (1-based), besides 127.0.0.2.

    ADDRESS is on the first ADDRESS_LISTINGS zones; 192.0.2.(100+i) is on zone
    i alone, so a /24 check finds 1 + (number of zones) listed addresses.
    """
    listed = [NETWORK[100 + i]] if 100 + i < NETWORK.num_addresses else []
    if i <= ADDRESS_LISTINGS:
        listed.insert(0, ADDRESS)
    return tuple(listed)


def expected_hits(address: ipaddress.IPv4Address, zones: Sequence[str]) -> int:
    """How many of ``zones`` list ``address`` (the dead zone lists nothing usable)."""
    count = 0
    for i in range(1, 100):
        if zone_name(i) in zones and address in zone_listings(i):
            count += 1
    return count


# --------------------------------------------------------------------------
# The namespace


def enter_netns() -> None:
    """Re-run this process inside a new network + mount namespace, once."""
    if os.environ.get(NETNS_MARK) == "1":
        return
    if os.geteuid() != 0:
        raise SystemExit("bench: needs root (unshare --net, port 53, rbldnsd -u)")
    unshare = shutil.which("unshare")
    if unshare is None:
        raise SystemExit("bench: unshare (util-linux) not found")
    env = dict(os.environ, **{NETNS_MARK: "1"})
    cmd = [unshare, "--net", "--mount", "--propagation", "private", "--"]
    cmd += [sys.executable, *sys.orig_argv[1:]]
    os.execve(unshare, cmd, env)


def setup_netns(workdir: Path) -> None:
    """Inside the namespace: lo up, nothing else there, resolv.conf -> our unbound."""
    if os.environ.get(NETNS_MARK) != "1":
        raise WorldError("not inside the benchmark's network namespace")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    interfaces = sorted(name for _, name in socket.if_nameindex())
    if interfaces != ["lo"]:
        raise WorldError(f"namespace has interfaces {interfaces}; expected only lo")
    resolv = workdir / "resolv.conf"
    resolv.write_text(f"nameserver {RESOLVER}\noptions timeout:1 attempts:1\n", encoding="utf-8")
    resolv.chmod(0o644)
    subprocess.run(["mount", "--bind", str(resolv), "/etc/resolv.conf"], check=True)


def udp_drops() -> int:
    """UDP datagrams this namespace dropped because a receive buffer was full."""
    lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines()]
    udp = [ln for ln in lines if ln and ln[0] == "Udp:"]
    if len(udp) < 2 or "RcvbufErrors" not in udp[0]:
        return 0
    return int(udp[1][udp[0].index("RcvbufErrors")])


# --------------------------------------------------------------------------
# The world


def make_world(workdir: Path, zones: Sequence[str], delay: float) -> DnsWorld:
    """rbldnsd serving ``zones`` (zone ``i`` lists ``zone_listings(i)``) plus
    DEAD_ZONE, whose queries the relay drops; unbound as a real resolver has it
    (``stock_resolver``) but caching nothing."""
    served = [
        Zone(
            name,
            ip4=(
                f":127.0.0.2:Listed on {name}: see http://{name}/lookup?$",
                "127.0.0.2 :127.0.0.2:RFC 5782 test entry",
                *(str(a) for a in zone_listings(i)),
            ),
        )
        for i, name in enumerate(zones, 1)
    ]
    return DnsWorld(
        [*served, Zone(DEAD_ZONE, behaviour="drop")],
        workdir=workdir,
        resolver=f"{RESOLVER}:53",
        rbldnsd=f"{RBLDNSD}:53",
        relay=Relay(delay, f"{RELAY}:53", RELAY_CONTROL),
        stock_resolver=True,
    )


@dataclass(frozen=True)
class Answer:
    rcode: str
    addresses: tuple[str, ...] = ()
    seconds: float = 0.0


def ask(name: str, timeout: float = 2.0) -> Answer:
    """One A query to the resolver, timed; rcode "TIMEOUT" when nothing answers."""
    start = time.monotonic()
    reply = dns_query(f"{RESOLVER}:53", name, "A", timeout)
    seconds = time.monotonic() - start
    if reply is None:
        return Answer("TIMEOUT", (), seconds)
    addresses = [rd.to_text() for rr in reply.answer if rr.rdtype == dns.rdatatype.A for rd in rr]
    return Answer(dns.rcode.to_text(reply.rcode()), tuple(addresses), seconds)


def verify(world: DnsWorld, delay: float) -> list[str]:
    """The world behaves as specified; returns lines describing what was checked."""
    listed, clean = f"2.0.0.127.{zone_name(1)}", f"1.0.0.127.{zone_name(1)}"
    notes = []
    first, second = ask(listed), ask(listed)
    for what, ans in (("first", first), ("second", second)):
        if ans.addresses != ("127.0.0.2",):
            raise WorldError(f"{what} query for {listed}: {ans}")
        if ans.seconds < delay * 0.95:
            raise WorldError(
                f"{what} query for {listed} took {ans.seconds * 1000:.1f} ms < delay: "
                "the resolver is caching"
            )
    notes.append(
        f"{listed} A twice: 127.0.0.2 in {first.seconds * 1000:.1f} ms, "
        f"then {second.seconds * 1000:.1f} ms (no cache: both pay the delay)"
    )
    neg1, neg2 = ask(clean), ask(clean)
    if {neg1.rcode, neg2.rcode} != {"NXDOMAIN"}:
        raise WorldError(f"{clean}: expected NXDOMAIN twice, got {neg1}, {neg2}")
    if neg2.seconds < delay * 0.95:
        raise WorldError(f"{clean}: second NXDOMAIN in {neg2.seconds * 1000:.1f} ms: cached")
    notes.append(
        f"{clean} A twice: NXDOMAIN in {neg1.seconds * 1000:.1f} ms, "
        f"then {neg2.seconds * 1000:.1f} ms (no negative cache)"
    )
    before = world.relay_stats()["dropped"]
    dead = ask(f"2.0.0.127.{DEAD_ZONE}", 0.5)
    if world.relay_stats()["dropped"] <= before:
        raise WorldError(f"relay did not drop a query for {DEAD_ZONE}")
    notes.append(
        f"2.0.0.127.{DEAD_ZONE} A: relay dropped it; resolver "
        + ("silent for 0.5 s" if dead.rcode == "TIMEOUT" else f"answered {dead.rcode}")
    )
    world.restart_resolver()  # forget that timeout before the runs
    return notes


@contextlib.contextmanager
def removed_after(workdir: Path, keep: bool) -> Iterator[None]:
    """Remove ``workdir`` when done, unless asked to keep it or something failed."""
    yield
    if keep:
        print(f"work directory kept: {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def make_workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="check_dnsbl-bench-"))
    path.chmod(0o755)
    return path


def zone_args(zones: Sequence[str], flag: str = "-s") -> list[str]:
    return [x for z in zones for x in (flag, z)]
