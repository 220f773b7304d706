"""Real DNS on loopback for tests: rbldnsd serves DNSBL zones, unbound resolves.

Tests of a DNSBL checker are only honest when the bytes on the wire come from
real DNS software, so this module starts ``rbldnsd`` (authoritative for the
test zones) and ``unbound`` (a recursive resolver with one ``stub-zone`` per
DNSBL zone) on 127.0.0.1, on free ports, in a private temp dir.  Nothing ever
leaves loopback: unbound answers every other name itself (NXDOMAIN), its
fallback root points at rbldnsd, and it only sends from its own address.

Typical use::

    with DnsWorld([Zone("zen.spamhaus.org", ip4=("127.0.0.2 :2:test",))]) as w:
        run_plugin("-n", w.resolver, ...)

The same world serves the benchmark (``bench/world.py``: fixed addresses on
port 53 in a private network namespace, a delay ``Relay`` between unbound and
rbldnsd, unbound at its stock settings) and the demo (rbldnsd alone, no
resolver).  Its DNS client is dnspython, the plugin's own dependency.
"""

from __future__ import annotations

import atexit
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NoReturn

import dns.exception
import dns.message
import dns.rcode

__all__ = [
    "BEHAVIOURS",
    "DnsWorld",
    "DnsWorldError",
    "Relay",
    "Zone",
    "dns_query",
    "relay_control",
    "require_tool",
]

#: "serve": rbldnsd answers.  "drop": the zone's server never answers; unbound
#: gives SERVFAIL after ~0.8 s, then at once while it holds the server as
#: down (60 s); with ``stock_resolver``, as unbound's defaults have it; with a
#: ``Relay``, the relay drops the queries (and counts them).  "servfail": the
#: zone's server REFUSES; unbound gives SERVFAIL at once.  "refused": unbound
#: itself answers REFUSED.  "timeout": unbound itself drops every query for
#: the zone, so the client times out.
BEHAVIOURS = ("serve", "drop", "servfail", "refused", "timeout")

START_TIMEOUT = 10.0
UPDATE_TIMEOUT = 10.0
SERIAL_LABEL = "_dnsworld-serial"
#: Internal zone served by rbldnsd and stubbed in unbound, so readiness can be
#: probed through both daemons even when no test zone is served.
PROBE_ZONE = "dnsworld-probe.invalid"
NEEDS_RESOLVER = "hosts, a relay and zones that do not serve need the resolver"


_Probe = Callable[[], bool]


class DnsWorldError(RuntimeError):
    """A daemon did not start, or rejected zone data, or an update never showed."""


@dataclass(frozen=True)
class Zone:
    """One DNSBL zone and how it behaves (see ``BEHAVIOURS``).

    ``ip4`` lines go to an rbldnsd ``ip4set``, which rejects ``/0`` ("invalid
    address", so the world refuses to start): list every address with
    ``0-255`` there, or with ``0/0`` in ``ip4trie`` (CIDR-only, takes /0).
    ``ip6`` lines go to an ``ip6trie`` (no dotted ``::ffff:1.2.3.4`` form).
    Once a zone has any IPv4 data, rbldnsd answers ``::ffff:a.b.c.d`` nibble
    names from the IPv4 data and never from ``ip6``.  ``generic`` lines are
    rbldnsd ``generic`` records (domain lists: ``dbltest.com A 127.0.1.2``).
    """

    name: str
    ip4: tuple[str, ...] = ()
    ip6: tuple[str, ...] = ()
    generic: tuple[str, ...] = ()
    behaviour: str = "serve"
    ip4trie: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour {self.behaviour!r} not in {BEHAVIOURS}")
        name = self.name.strip(".").lower()
        if not name or not re.fullmatch(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*", name):
            raise ValueError(f"bad zone name {self.name!r}")
        object.__setattr__(self, "name", name)
        for attr in ("ip4", "ip6", "generic", "ip4trie"):
            value = getattr(self, attr)
            if isinstance(value, str):  # a bare str would be split into chars
                raise TypeError(f"Zone.{attr} must be a tuple of lines, not str")
            object.__setattr__(self, attr, tuple(value))


@dataclass(frozen=True)
class Relay:
    """Option of ``DnsWorld``: ``tests/dnsrelay.py`` between unbound and rbldnsd.

    It adds ``delay`` seconds to every query, drops the queries of "drop"
    zones (they reach it, so they are counted) and counts everything
    (``DnsWorld.relay_stats``).  ``listen`` and ``control`` are ``"ip:port"``;
    empty: free loopback ports.
    """

    delay: float = 0.0
    listen: str = ""
    control: str = ""


# --------------------------------------------------------------------------
# DNS client (dnspython): readiness probes and an independent test oracle.


def _split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host, int(port)


def _loopback(server: str) -> tuple[str, int]:
    """``"ip:port"`` of a loopback server; this harness never sends DNS elsewhere."""
    host, port = _split_addr(server)
    if not host.startswith("127."):
        raise ValueError(f"refusing to send to non-loopback server {server}")
    return host, port


def dns_query(
    server: str, name: str, qtype: str = "A", timeout: float = 2.0
) -> dns.message.Message | None:
    """One UDP query (RD set) to ``"ip:port"``; None when nothing answers in time.

    A connected socket, so a server not listening yet fails at once (ICMP
    port unreachable) instead of after ``timeout``: start-up polls with it.
    """
    query = dns.message.make_query(name, qtype)
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(_loopback(server))
        try:
            sock.send(query.to_wire())
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                reply = dns.message.from_wire(sock.recv(65535))
                if query.is_response(reply):
                    return reply
        except (OSError, dns.exception.DNSException):  # refused, timed out, garbage
            return None
    return None


def relay_control(control: str, command: str = "stats", timeout: float = 2.0) -> dict[str, int]:
    """Send a ``Relay`` a command (``stats``, ``delay SECONDS``); its counters."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect(_loopback(control))
        sock.send(command.encode())
        counters: dict[str, int] = json.loads(sock.recv(4096))
        return counters


# --------------------------------------------------------------------------
# Helpers


def require_tool(name: str) -> str:
    """Path of a needed binary; skip the test without it, but fail it in CI.

    CI must not go green by silently skipping every real-DNS test.  Outside
    pytest (the demo, the benchmark): DnsWorldError.
    """
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path:
        return path
    msg = f"{name} not installed (apt-get install rbldnsd unbound dnsutils)"
    if "pytest" not in sys.modules:
        raise DnsWorldError(msg)
    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def _free_addr(tcp_too: bool) -> str:
    """``"127.0.0.1:PORT"`` free for UDP (and TCP); a small race remains, start retries."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            if not tcp_too:
                return f"127.0.0.1:{port}"
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return f"127.0.0.1:{port}"
    raise DnsWorldError("no free loopback port")


def _write_atomic(path: Path, text: str, mtime_ns: int | None = None) -> None:
    """Write via rename (rbldnsd must never read half a file), readable by all."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o644)  # rbldnsd reads as the unprivileged user it switched to
    if mtime_ns is not None:
        os.utime(tmp, ns=(mtime_ns, mtime_ns))
    tmp.replace(path)


_LIVE: set[DnsWorld] = set()


@atexit.register
def _stop_all() -> None:
    """Safety net: no daemon survives the test process, even without __exit__."""
    for world in list(_LIVE):
        world.stop()


# rbldnsd log lines that are not complaints about the data.
_RBLDNSD_OK = re.compile(
    r"rbldnsd: (listening on |zones reloaded|rbldnsd version |terminating"
    r"|stats for |\w+:[^ ]+: \d{8} \d{6}: )"
)


class Daemon:
    """One child process in its own process group, logging to a file (the
    test harnesses' one way to run a daemon: DnsWorld's, Graphite's)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log: Path,
        cwd: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name, self.log = name, log
        with open(log, "ab") as logf:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )

    def log_text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 3.0) -> None:
        """TERM the whole group, KILL it if slow (after ``grace`` seconds
        each), always reap."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
        if self.proc.poll() is None:
            self.proc.wait(5)


class DnsWorld:
    """Context manager: rbldnsd + unbound (+ droppers, + a relay) on loopback.

    ``resolver`` is unbound's ``"127.0.0.1:PORT"`` (the plugin's ``-n``),
    ``rbldnsd`` the authoritative server's.  ``hosts`` maps a name to records
    such as ``"A 198.51.100.10"`` or ``"MX 10 mx1.example.test."``, served by
    unbound as local data.  Every name that is neither a zone nor a host is
    NXDOMAIN, answered locally.

    Options: ``resolver`` and ``rbldnsd`` fix the ``"ip:port"`` to serve on
    (default: free ports on 127.0.0.1); ``resolver=None`` starts rbldnsd
    alone (only "serve" zones, no hosts).  ``relay`` puts a ``Relay`` between
    unbound and rbldnsd.  ``stock_resolver`` leaves unbound's capacity and its
    handling of servers that never answer at unbound's defaults, as a real
    resolver has them; by default they are small and quick to give up, as
    tests want.  Either way unbound caches nothing and hands out TTL 0, so a
    changed zone shows on the next query and every query pays its round trip.
    """

    def __init__(
        self,
        zones: Iterable[Zone],
        hosts: Mapping[str, Iterable[str]] | None = None,
        workdir: Path | None = None,
        *,
        resolver: str | None = "",
        rbldnsd: str = "",
        relay: Relay | None = None,
        stock_resolver: bool = False,
    ) -> None:
        self._want_resolver, self._want_rbldnsd = resolver, rbldnsd
        self._zones: dict[str, Zone] = {}
        for zone in zones:
            if zone.name in self._zones:
                raise ValueError(f"zone {zone.name} given twice")
            self._check_zone(zone)
            self._zones[zone.name] = zone
        self._hosts = {
            name.strip(".").lower(): tuple(recs) for name, recs in (hosts or {}).items()
        }
        if resolver is None and (self._hosts or relay):
            raise ValueError(NEEDS_RESOLVER)
        self._own_dir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix="dnsworld-")) if workdir is None else Path(workdir)
        )
        self.zonedir = self.workdir / "zones"
        self._relay_option = relay
        self._stock = stock_resolver
        self.resolver = ""
        self.rbldnsd = ""
        #: The relay's DNS and control ``"ip:port"`` ("" without a relay).
        self.relay = ""
        self.relay_control = ""
        self._delay = relay.delay if relay else 0.0
        self._daemons: dict[str, Daemon] = {}  # in start order
        self._droppers: dict[str, socket.socket] = {}
        self._serial = 0
        self._mtime_ns = 0

    # ---------------------------------------------------------------- API

    @property
    def zones(self) -> dict[str, Zone]:
        """The zones as currently served (a copy)."""
        return dict(self._zones)

    def __enter__(self) -> DnsWorld:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the daemons and wait until each answers a real query."""
        if self._daemons:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.zonedir.mkdir(exist_ok=True)
        self.zonedir.chmod(0o755)  # rbldnsd chdirs here, then drops to a user
        _LIVE.add(self)
        try:
            self._start_daemons()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill every daemon (whole process group), close droppers; idempotent."""
        self._stop_daemons()
        for sock in self._droppers.values():
            sock.close()
        self._droppers.clear()
        _LIVE.discard(self)
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def update(self, zone: Zone) -> None:
        """Replace one zone's data (or behaviour); return once a query sees it.

        Data changes of a served zone are a file rewrite + SIGHUP to rbldnsd
        (no restart, like a real DNSBL feed); a new zone, a behaviour change or
        a new kind of dataset restarts the daemons on the same ports.
        """
        rbl = self._daemons.get("rbldnsd")
        if rbl is None:
            raise DnsWorldError("update() on a world that is not running")
        self._check_zone(zone)
        old = self._zones.get(zone.name)
        self._zones[zone.name] = zone
        if (
            old is None
            or old.behaviour != zone.behaviour
            or zone.behaviour != "serve"
            or _datasets(old).keys() != _datasets(zone).keys()
        ):
            self._stop_daemons()
            self._start_daemons(keep_ports=True)
            return
        serial = self._write_zone_files(zone)
        start = len(rbl.log_text())
        rbl.proc.send_signal(signal.SIGHUP)

        def visible() -> bool:
            self._check_rbldnsd_log(since=start)  # fail fast on rejected data
            return self._serial_seen(self.resolver or self.rbldnsd, zone.name, serial)

        self._wait(visible, UPDATE_TIMEOUT, f"update of {zone.name} never became visible")
        self._check_rbldnsd_log(since=start)

    def restart_resolver(self) -> None:
        """A fresh unbound on the same address: no memory of servers that timed out."""
        self._daemons.pop("unbound").stop()
        try:
            self._start_unbound()
        except _PortTaken as taken:
            self._fail(f"unbound could not bind {self.resolver} again: {taken}")

    def relay_stats(self) -> dict[str, int]:
        """The relay's counters: queries received, forwarded, dropped, ...; cpu_ms."""
        return relay_control(self.relay_control)

    def set_delay(self, seconds: float) -> None:
        """Change the relay's delay (kept across restarts)."""
        relay_control(self.relay_control, f"delay {seconds}")
        self._delay = seconds

    def log(self) -> str:
        """Every daemon's log, for failure messages."""
        return "\n".join(f"--- {d.name} log ---\n{d.log_text()}" for d in self._daemons.values())

    # ------------------------------------------------------------ internals

    def _check_zone(self, zone: Zone) -> None:
        if self._want_resolver is None and zone.behaviour != "serve":
            raise ValueError(NEEDS_RESOLVER)

    def _stop_daemons(self) -> None:
        for daemon in reversed(self._daemons.values()):
            daemon.stop()
        self._daemons.clear()

    def _start_daemons(self, keep_ports: bool = False) -> None:
        if self._relay_option is None:
            for zone in self._zones.values():
                if zone.behaviour == "drop" and zone.name not in self._droppers:
                    # Bound but never read: queries vanish, like a dead server.
                    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    sock.bind(("127.0.0.1", 0))
                    self._droppers[zone.name] = sock
        relay = self._relay_option
        taken = ""
        for attempt in range(5):
            if not keep_ports or attempt > 0:
                self.rbldnsd = self._want_rbldnsd or _free_addr(tcp_too=False)
                if relay is not None:
                    self.relay = relay.listen or _free_addr(tcp_too=False)
                    self.relay_control = relay.control or _free_addr(tcp_too=False)
                if self._want_resolver is not None:
                    self.resolver = self._want_resolver or _free_addr(tcp_too=True)
            try:
                self._start_rbldnsd()
                if relay is not None:
                    self._start_relay()
                if self._want_resolver is not None:
                    self._start_unbound()
                return
            except _PortTaken as exc:
                self._stop_daemons()
                taken = str(exc)
        raise DnsWorldError(f"could not bind loopback ports after 5 tries: {taken}")

    def _write_zone_files(self, zone: Zone) -> int:
        """Write one zone's dataset files; returns its new serial."""
        self._serial += 1
        # rbldnsd reloads on mtime change; force a strictly newer mtime so two
        # updates within one second are both noticed.
        self._mtime_ns = max(time.time_ns(), self._mtime_ns + 1_000_000_000)
        header = (
            "$TTL 1\n"
            # serial 0 = file mtime; minttl 1 keeps negative answers fresh.
            f"$SOA 1 ns.{zone.name} hostmaster.{zone.name} 0 1 1 1 1\n"
            f'{SERIAL_LABEL} TXT "{self._serial}"\n'
        )
        # generic (with the serial) last: once the serial shows, so does the rest.
        for kind, lines in reversed(_datasets(zone).items()):
            text = header if kind == "generic" else "$TTL 1\n"
            text += "".join(f"{line}\n" for line in lines)
            _write_atomic(self.zonedir / f"{zone.name}.{kind}", text, self._mtime_ns)
        return self._serial

    def _start_rbldnsd(self) -> None:
        exe = require_tool("rbldnsd")
        specs = []
        # Deeper zones first: rbldnsd skips a subzone listed after its parent.
        serve = sorted(
            (z for z in self._zones.values() if z.behaviour == "serve"),
            key=lambda z: -z.name.count("."),
        )
        for zone in [*serve, Zone(PROBE_ZONE)]:
            self._write_zone_files(zone)
            # Only datasets with data: an (even empty) IPv4 dataset makes
            # rbldnsd answer ::ffff:a.b.c.d names from IPv4 data only.
            # generic comes first so its $SOA is the zone's SOA.
            specs += [f"{zone.name}:{kind}:{zone.name}.{kind}" for kind in _datasets(zone)]
        host, port = _split_addr(self.rbldnsd)
        bind = f"{host}/{port}"
        # -t 1::1: TTL 1 s, as rbldnsd rejects 0; -c 1: recheck files each second.
        argv = [exe, "-n", "-4", "-b", bind, "-w", str(self.zonedir), "-t", "1::1", "-c", "1"]
        if os.geteuid() == 0:  # rbldnsd refuses to run as root
            argv += ["-u", _unprivileged_user()]
        rbl = self._daemon("rbldnsd", argv + specs, self.zonedir)
        self._wait_daemon(rbl, lambda: self._serial_seen(self.rbldnsd, PROBE_ZONE, None))
        self._check_rbldnsd_log(since=0)

    def _start_relay(self) -> None:
        argv = [sys.executable, str(Path(__file__).with_name("dnsrelay.py"))]
        argv += ["--listen", self.relay, "--upstream", self.rbldnsd]
        argv += ["--control", self.relay_control, "--delay", str(self._delay)]
        for zone in self._zones.values():
            if zone.behaviour == "drop":
                argv += ["--drop", zone.name]
        relay = self._daemon("relay", argv, self.workdir)
        self._wait_daemon(relay, lambda: self._serial_seen(self.relay, PROBE_ZONE, None))

    def _start_unbound(self) -> None:
        exe = require_tool("unbound")
        conf = self.workdir / "unbound.conf"
        conf.write_text(self._unbound_conf(), encoding="utf-8")
        unbound = self._daemon("unbound", [exe, "-d", "-p", "-c", str(conf)], self.workdir)
        self._wait_daemon(unbound, lambda: self._serial_seen(self.resolver, PROBE_ZONE, None))

    def _daemon(self, name: str, argv: list[str], cwd: Path) -> Daemon:
        daemon = Daemon(name, argv, self.workdir / f"{name}.log", cwd)
        self._daemons[name] = daemon
        return daemon

    def _unbound_conf(self) -> str:
        host, port = _split_addr(self.resolver)
        upstream = (self.relay or self.rbldnsd).replace(":", "@")
        server = [
            f"interface: {host}",
            f"port: {port}",
            f"outgoing-interface: {host}",  # cannot reach beyond loopback
            "do-ip4: yes",
            "do-ip6: no",
            "do-udp: yes",
            "do-tcp: yes",
            "access-control: 127.0.0.0/8 allow",
            "do-not-query-localhost: no",  # our servers live on loopback
            'chroot: ""',
            'username: ""',
            f'directory: "{self.workdir}"',
            "use-syslog: no",
            'logfile: ""',
            "verbosity: 1",
            'module-config: "iterator"',  # no DNSSEC: no trust anchors
            "num-threads: 1",
            "msg-cache-size: 1m",
            "rrset-cache-size: 1m",
            # Nothing is cached, so a changed zone shows on the next query.
            "cache-max-ttl: 0",
            "cache-max-negative-ttl: 0",
            "prefetch: no",
            "serve-expired: no",
            "qname-minimisation: no",  # one full-name query per lookup
            "minimal-responses: yes",
            "hide-version: yes",
            'local-zone: "." static',  # every other name: NXDOMAIN, locally
        ]
        if not self._stock:
            server += [
                "outgoing-range: 64",
                "num-queries-per-thread: 32",
                # A "drop" zone: SERVFAIL after ~0.8 s (two 376 ms timeouts), then
                # at once while the dead server is held down (60 s); never a client
                # left without answer (Debian's default discard-timeout is 1.9 s).
                "infra-host-ttl: 60",
                "infra-cache-max-rtt: 500",
                "outbound-msg-retry: 1",
                "discard-timeout: 10000",
            ]
        stubs = [(".", upstream)]  # never the real root hints, even by mistake
        for zone in [*self._zones.values(), Zone(PROBE_ZONE)]:
            kind = {"refused": "always_refuse", "timeout": "always_deny"}.get(
                zone.behaviour, "transparent"
            )
            server.append(f'local-zone: "{zone.name}." {kind}')
            if zone.behaviour in ("serve", "servfail"):
                # rbldnsd REFUSES zones it does not serve: prompt SERVFAIL.
                stubs.append((zone.name, upstream))
            elif zone.behaviour == "drop":
                # Without a relay, a dropper socket; with one, the relay drops.
                dropper = self._droppers.get(zone.name)
                port = dropper.getsockname()[1] if dropper else 0
                stubs.append((zone.name, f"127.0.0.1@{port}" if dropper else upstream))
        for name, records in self._hosts.items():
            for rec in records:
                quote = "'" if '"' in rec else '"'  # TXT data brings its own quotes
                server.append(f"local-data: {quote}{name}. 0 IN {rec}{quote}")
        lines = ["server:", *(f"    {s}" for s in server)]
        for name, addr in stubs:
            lines += [
                "stub-zone:",
                f'    name: "{name}"',
                f"    stub-addr: {addr}",
                "    stub-no-cache: yes",
            ]
        return "\n".join(lines) + "\n"

    def _serial_seen(self, server: str, zone: str, serial: int | None) -> bool:
        reply = dns_query(server, f"{SERIAL_LABEL}.{zone}", "TXT", 0.5)
        if reply is None or reply.rcode() != dns.rcode.NOERROR:
            return False
        texts = [rd.to_text() for rrset in reply.answer for rd in rrset]
        return serial is None or texts == [f'"{serial}"']

    def _wait_daemon(self, daemon: Daemon, ready: _Probe) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not daemon.alive():
                text = daemon.log_text()
                if "Address already in use" in text:
                    raise _PortTaken(f"{daemon.name}: {text.strip()[-300:]}")
                self._fail(f"{daemon.name} exited with {daemon.proc.returncode}")
            if ready():
                return
            time.sleep(0.02)
        self._fail(f"{daemon.name} not answering after {START_TIMEOUT:.0f}s")

    def _wait(self, ready: _Probe, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.05)
        self._fail(what)

    def _check_rbldnsd_log(self, since: int) -> None:
        """Zone data rbldnsd ignored (e.g. ``0/0`` in ip4set) is a test bug."""
        bad = [
            ln
            for ln in self._daemons["rbldnsd"].log_text()[since:].splitlines()
            if ln.strip() and not _RBLDNSD_OK.match(ln)
        ]
        if bad:
            self._fail("rbldnsd rejected zone data:\n" + "\n".join(bad))

    def _fail(self, what: str) -> NoReturn:
        raise DnsWorldError(f"{what}\n{self.log()}")


class _PortTaken(Exception):
    """A daemon lost the race for its port; start again on new ports."""


def _datasets(zone: Zone) -> dict[str, tuple[str, ...]]:
    """rbldnsd dataset type -> lines, for the kinds this zone has data in."""
    kinds = {"ip4set": zone.ip4, "ip4trie": zone.ip4trie, "ip6trie": zone.ip6}
    return {"generic": zone.generic} | {k: v for k, v in kinds.items() if v}


def _unprivileged_user() -> str:
    for user in ("rbldns", "nobody"):
        try:
            pwd.getpwnam(user)
            return user
        except KeyError:
            continue
    raise DnsWorldError("no unprivileged user (rbldns, nobody) for rbldnsd -u")
