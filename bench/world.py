"""The benchmark's DNS world: rbldnsd -> delay relay -> unbound, all on loopback
inside a private network namespace.

``enter_netns()`` re-executes the calling script under ``unshare --net
--mount``: the new namespace has nothing but ``lo``, so no benchmark packet can
leave the machine, and port 53 of any 127.0.0.0/8 address is free (check_rbl's
``-n`` takes no port). A private ``/etc/resolv.conf`` names our unbound, so
even check_rbl's reverse lookup of the checked address stays inside.

Layout (all UDP, all in the namespace)::

    plugin -> unbound 127.53.0.1:53 (no cache) -> relay 127.53.0.3:53 (+delay,
    drops chosen zones) -> rbldnsd 127.53.0.2:53 (TTL 0)
"""

import contextlib
import ipaddress
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

NETNS_MARK = "CHECK_DNSBL_BENCH_NETNS"
RESOLVER = "127.53.0.1"
RBLDNSD = "127.53.0.2"
RELAY = "127.53.0.3"
RELAY_CONTROL_PORT = 54
REPO = Path(__file__).resolve().parent.parent

#: The benchmark's test network, every address of which the /24 scenario checks.
NETWORK = ipaddress.IPv4Network("192.0.2.0/24")
#: The single address of the one-address scenarios: listed on the first 3 lists.
ADDRESS = ipaddress.IPv4Address("192.0.2.10")
ADDRESS_LISTINGS = 3
DEAD_ZONE = "dead.bench.test"


class WorldError(RuntimeError):
    """A daemon did not start, or the world does not behave as specified."""


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


# --------------------------------------------------------------------------
# A tiny stdlib DNS client for readiness probes and the world's self-check

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


@dataclass(frozen=True)
class Answer:
    rcode: str
    addresses: tuple[str, ...] = ()
    seconds: float = 0.0


def dns_query(server: str, name: str, timeout: float = 2.0, port: int = 53) -> Answer | None:
    """One A query with RD set; None when nothing answers within ``timeout``."""
    if not server.startswith("127."):
        raise ValueError(f"refusing to query non-loopback server {server}")
    qid = random.randrange(1 << 16)
    qname = b"".join(bytes([len(x)]) + x.encode() for x in name.strip(".").split(".")) + b"\0"
    packet = struct.pack("!6H", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!2H", 1, 1)
    start = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((server, port))
        sock.send(packet)
        while (left := start + timeout - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                msg = sock.recv(4096)
            except (TimeoutError, ConnectionRefusedError):
                return None
            if len(msg) >= 12 and struct.unpack("!H", msg[:2])[0] == qid:
                return _parse(msg, time.monotonic() - start)
    return None


def _skip_name(msg: bytes, pos: int) -> int:
    while True:
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            return pos + 2
        if length == 0:
            return pos + 1
        pos += 1 + length


def _parse(msg: bytes, seconds: float) -> Answer:
    _, flags, qd, an, _, _ = struct.unpack("!6H", msg[:12])
    pos = 12
    for _ in range(qd):
        pos = _skip_name(msg, pos) + 4
    found = []
    for _ in range(an):
        pos = _skip_name(msg, pos)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[pos : pos + 10])
        pos += 10
        if rtype == 1 and rdlen == 4:
            found.append(socket.inet_ntoa(msg[pos : pos + 4]))
        pos += rdlen
    return Answer(RCODES.get(flags & 0xF, str(flags & 0xF)), tuple(found), seconds)


def relay_stats(timeout: float = 2.0) -> dict[str, int]:
    """The relay's counters (queries received, forwarded, dropped, ...)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect((RELAY, RELAY_CONTROL_PORT))
        sock.send(b"stats")
        data: dict[str, int] = json.loads(sock.recv(4096))
        return data


def udp_drops() -> int:
    """UDP datagrams this namespace dropped because a receive buffer was full."""
    lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines()]
    udp = [ln for ln in lines if ln and ln[0] == "Udp:"]
    if len(udp) < 2 or "RcvbufErrors" not in udp[0]:
        return 0
    return int(udp[1][udp[0].index("RcvbufErrors")])


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


# --------------------------------------------------------------------------
# Daemons


@dataclass
class Daemon:
    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO)
            )

    def cpu_seconds(self) -> float:
        """user+sys CPU so far, from /proc (for the resolver-side cost)."""
        if self.proc is None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


@dataclass
class World:
    """rbldnsd + relay + unbound for ``zones`` (plus DEAD_ZONE, dropped by the relay)."""

    workdir: Path
    zones: Sequence[str]
    delay: float = 0.040
    drop: Sequence[str] = (DEAD_ZONE,)
    daemons: dict[str, Daemon] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.initial_delay = self.delay

    def __enter__(self) -> "World":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def all_zones(self) -> list[str]:
        return [*self.zones, *(z for z in self.drop if z not in self.zones)]

    def start(self) -> None:
        for host, port in ((RESOLVER, 53), (RBLDNSD, 53), (RELAY, 53), (RELAY, 54)):
            if not port_free(host, port):
                raise WorldError(f"{host}:{port} is taken; is another benchmark running?")
        self._write_zones()
        self._start_rbldnsd()
        self._start_relay(self.delay)
        self._start_unbound()

    def stop(self) -> None:
        for name in ("unbound", "relay", "rbldnsd"):
            if name in self.daemons:
                self.daemons[name].stop()

    # -- zones

    def _write_zones(self) -> None:
        zonedir = self.workdir / "zones"
        zonedir.mkdir(exist_ok=True)
        zonedir.chmod(0o755)
        for i, zone in enumerate(self.all_zones, 1):
            listed = zone_listings(i) if zone not in self.drop else ()
            lines = [
                f"$SOA 0 ns.{zone}. hostmaster.{zone}. 0 0 0 0 0",
                "$TTL 0",
                f":127.0.0.2:Listed on {zone}: see http://{zone}/lookup?$",
                "127.0.0.2 :127.0.0.2:RFC 5782 test entry",
                *(str(a) for a in listed),
            ]
            path = zonedir / zone
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            path.chmod(0o644)

    def _start_rbldnsd(self) -> None:
        exe = shutil.which("rbldnsd") or "/usr/sbin/rbldnsd"
        argv = [exe, "-n", "-4", "-b", f"{RBLDNSD}/53", "-w", str(self.workdir)]
        argv += ["-u", "rbldns"] if _user_exists("rbldns") else []
        argv += [f"{z}:ip4set:zones/{z}" for z in self.all_zones]
        daemon = Daemon("rbldnsd", argv, self.workdir / "rbldnsd.log")
        self.daemons["rbldnsd"] = daemon
        daemon.start()
        probe = f"2.0.0.127.{self.all_zones[0]}"
        self._wait(daemon, lambda: dns_query(RBLDNSD, probe, 0.3) is not None)

    def _start_relay(self, delay: float) -> None:
        argv = [sys.executable, "-m", "bench.relay", "--listen", f"{RELAY}:53"]
        argv += ["--upstream", f"{RBLDNSD}:53", "--control", f"{RELAY}:{RELAY_CONTROL_PORT}"]
        argv += ["--delay", str(delay)]
        for zone in self.drop:
            argv += ["--drop", zone]
        daemon = Daemon("relay", argv, self.workdir / "relay.log")
        self.daemons["relay"] = daemon
        daemon.start()
        self._wait(daemon, _stats_ok)
        self.delay = delay

    def set_delay(self, delay: float) -> None:
        """Restart the relay with another delay (same address and port)."""
        self.daemons["relay"].stop()
        self._start_relay(delay)

    def _unbound_conf(self) -> str:
        server = [
            f"interface: {RESOLVER}",
            "port: 53",
            f"outgoing-interface: {RESOLVER}",
            "do-ip4: yes",
            "do-ip6: no",
            "do-udp: yes",
            "do-tcp: yes",
            "access-control: 127.0.0.0/8 allow",
            "do-not-query-localhost: no",
            'chroot: ""',
            'username: ""',
            f'directory: "{self.workdir}"',
            'pidfile: ""',
            "use-syslog: no",
            f'logfile: "{self.workdir}/unbound.log"',
            "verbosity: 1",
            'module-config: "iterator"',
            # Capacity (num-queries-per-thread, outgoing-range, jostle-timeout) stays at
            # unbound's defaults: a plugin that floods the resolver pays for it here too.
            "num-threads: 1",
            # Caching off: every run pays the round trip (verified at start-up).
            "msg-cache-size: 64k",
            "rrset-cache-size: 64k",
            "key-cache-size: 64k",
            "neg-cache-size: 64k",
            "cache-max-ttl: 0",
            "cache-max-negative-ttl: 0",
            "prefetch: no",
            "serve-expired: no",
            "qname-minimisation: no",
            "minimal-responses: yes",
            "hide-version: yes",
            # Every name outside the test zones is answered locally (NXDOMAIN).
            'local-zone: "." static',
            'local-zone: "bench.test." transparent',
        ]
        lines = ["server:", *(f"    {s}" for s in server)]
        for zone in self.all_zones:
            lines += [
                "stub-zone:",
                f'    name: "{zone}"',
                f"    stub-addr: {RELAY}@53",
                "    stub-no-cache: yes",
            ]
        return "\n".join(lines) + "\n"

    def _start_unbound(self) -> None:
        exe = shutil.which("unbound") or "/usr/sbin/unbound"
        conf = self.workdir / "unbound.conf"
        conf.write_text(self._unbound_conf(), encoding="utf-8")
        check = shutil.which("unbound-checkconf")
        if check:
            result = subprocess.run(
                [check, str(conf)], check=False, capture_output=True, text=True
            )
            if result.returncode != 0:
                raise WorldError(f"unbound-checkconf: {result.stdout}{result.stderr}")
        daemon = Daemon("unbound", [exe, "-d", "-c", str(conf)], self.workdir / "unbound.log")
        self.daemons["unbound"] = daemon
        daemon.start()
        probe = f"2.0.0.127.{self.all_zones[0]}"
        self._wait(daemon, lambda: dns_query(RESOLVER, probe, 0.5) is not None)

    def restart_resolver(self) -> None:
        """A fresh unbound: no infrastructure (server timeout) memory from earlier runs."""
        self.daemons["unbound"].stop()
        self._start_unbound()

    @staticmethod
    def _wait(daemon: Daemon, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not daemon.alive():
                raise WorldError(f"{daemon.name} exited:\n{daemon.tail()}")
            if ready():
                return
            time.sleep(0.05)
        raise WorldError(f"{daemon.name} not ready after 10 s:\n{daemon.tail()}")

    # -- checks

    def verify(self) -> list[str]:
        """The world behaves as specified; returns lines describing what was checked."""
        zone = self.zones[0]
        listed, clean = f"2.0.0.127.{zone}", f"1.0.0.127.{zone}"
        notes = []
        first = dns_query(RESOLVER, listed, 2)
        second = dns_query(RESOLVER, listed, 2)
        for what, ans in (("first", first), ("second", second)):
            if ans is None or ans.addresses != ("127.0.0.2",):
                raise WorldError(f"{what} query for {listed}: {ans}")
            if ans.seconds < self.delay * 0.95:
                raise WorldError(
                    f"{what} query for {listed} took {ans.seconds * 1000:.1f} ms < delay: "
                    "the resolver is caching"
                )
        notes.append(
            f"{listed} A twice: 127.0.0.2 in {first.seconds * 1000:.1f} ms, "  # type: ignore[union-attr]
            f"then {second.seconds * 1000:.1f} ms (no cache: both pay the delay)"  # type: ignore[union-attr]
        )
        neg1, neg2 = dns_query(RESOLVER, clean, 2), dns_query(RESOLVER, clean, 2)
        if neg1 is None or neg2 is None or {neg1.rcode, neg2.rcode} != {"NXDOMAIN"}:
            raise WorldError(f"{clean}: expected NXDOMAIN twice, got {neg1}, {neg2}")
        if neg2.seconds < self.delay * 0.95:
            raise WorldError(f"{clean}: second NXDOMAIN in {neg2.seconds * 1000:.1f} ms: cached")
        notes.append(
            f"{clean} A twice: NXDOMAIN in {neg1.seconds * 1000:.1f} ms, "
            f"then {neg2.seconds * 1000:.1f} ms (no negative cache)"
        )
        before = relay_stats()["dropped"]
        if self.drop:
            dead = dns_query(RESOLVER, f"2.0.0.127.{self.drop[0]}", 0.5)
            after = relay_stats()["dropped"]
            if after <= before:
                raise WorldError(f"relay did not drop a query for {self.drop[0]}")
            notes.append(
                f"2.0.0.127.{self.drop[0]} A: relay dropped it; resolver "
                + ("silent for 0.5 s" if dead is None else f"answered {dead.rcode}")
            )
            self.restart_resolver()  # forget that timeout before the runs
        return notes


def _stats_ok() -> bool:
    try:
        relay_stats(0.3)
    except OSError:
        return False
    return True


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


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
