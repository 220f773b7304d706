"""Real DNS on loopback for tests: rbldnsd serves DNSBL zones, unbound resolves.

Tests of a DNSBL checker are only honest when the bytes on the wire come from
real DNS software, so this module starts ``rbldnsd`` (authoritative for the
test zones) and ``unbound`` (a recursive resolver with one ``stub-zone`` per
DNSBL zone) on 127.0.0.1, on free ports, in a private temp dir.  Nothing ever
leaves loopback: unbound answers every other name itself (NXDOMAIN), its
fallback root points at rbldnsd, and it only sends from 127.0.0.1.

Typical use::

    with DnsWorld([Zone("zen.spamhaus.org", ip4=("127.0.0.2 :2:test",))]) as w:
        run_plugin("-n", w.resolver, ...)
"""

from __future__ import annotations

import atexit
import os
import pwd
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NoReturn

__all__ = [
    "BEHAVIOURS",
    "DnsReply",
    "DnsWorld",
    "DnsWorldError",
    "Zone",
    "dns_query",
    "require_tool",
]

#: "serve": rbldnsd answers.  "drop": the zone's server never answers; unbound
#: gives SERVFAIL after ~0.8 s, then at once while it holds the server as
#: down (60 s).  "servfail": the zone's server REFUSES; unbound gives SERVFAIL
#: at once.  "refused": unbound itself answers REFUSED.  "timeout": unbound
#: itself drops every query for the zone, so the client times out.
BEHAVIOURS = ("serve", "drop", "servfail", "refused", "timeout")

START_TIMEOUT = 10.0
UPDATE_TIMEOUT = 10.0
SERIAL_LABEL = "_dnsworld-serial"
#: Internal zone served by rbldnsd and stubbed in unbound, so readiness can be
#: probed through both daemons even when no test zone is served.
PROBE_ZONE = "dnsworld-probe.invalid"


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


# --------------------------------------------------------------------------
# Tiny stdlib DNS client: readiness probes and an independent test oracle.

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


@dataclass(frozen=True)
class DnsReply:
    """Decoded answer: rcode name and (type, text) pairs from the answer section."""

    rcode: str
    answers: tuple[tuple[str, str], ...] = ()

    def values(self, rtype: str) -> list[str]:
        """Answer data of one type, e.g. ``reply.values("A")``."""
        return [data for t, data in self.answers if t == rtype]


def _split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host, int(port)


def _encode_name(name: str) -> bytes:
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _read_name(msg: bytes, pos: int) -> tuple[str, int]:
    labels: list[str] = []
    end = -1
    for _ in range(128):  # bounded: a compression loop must not hang a test
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            if end < 0:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | msg[pos + 1]
            continue
        if length == 0:
            return ".".join(labels) + ".", end if end >= 0 else pos + 1
        labels.append(msg[pos + 1 : pos + 1 + length].decode("ascii", "replace"))
        pos += 1 + length
    raise ValueError("DNS name compression loop")


def _rdata_text(msg: bytes, rtype: int, start: int, length: int) -> str:
    rdata = msg[start : start + length]
    if rtype == 1:
        return socket.inet_ntop(socket.AF_INET, rdata)
    if rtype == 28:
        return socket.inet_ntop(socket.AF_INET6, rdata)
    if rtype in (2, 5, 12):
        return _read_name(msg, start)[0]
    if rtype == 15:
        return f"{struct.unpack('!H', rdata[:2])[0]} {_read_name(msg, start + 2)[0]}"
    if rtype == 16:
        parts, i = [], 0
        while i < len(rdata):
            parts.append(rdata[i + 1 : i + 1 + rdata[i]].decode("utf-8", "replace"))
            i += 1 + rdata[i]
        return "".join(parts)
    if rtype == 6:
        mname, pos = _read_name(msg, start)
        rname, pos = _read_name(msg, pos)
        nums = struct.unpack("!5I", msg[pos : pos + 20])
        return " ".join([mname, rname, *map(str, nums)])
    return rdata.hex()


def dns_query(server: str, name: str, qtype: str = "A", timeout: float = 2.0) -> DnsReply | None:
    """One UDP query (RD set) to ``"ip:port"``; None when nothing answers in time.

    Refuses non-loopback servers: this harness must never send DNS elsewhere.
    """
    host, port = _split_addr(server)
    if not host.startswith("127."):
        raise ValueError(f"refusing to query non-loopback server {server}")
    qid = random.randrange(1 << 16)
    packet = (
        struct.pack("!6H", qid, 0x0100, 1, 0, 0, 0)
        + _encode_name(name)
        + struct.pack("!2H", QTYPES[qtype.upper()], 1)
    )
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((host, port))
        try:
            sock.send(packet)
        except ConnectionRefusedError:
            return None
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                msg = sock.recv(65535)
            except (TimeoutError, ConnectionRefusedError):
                return None
            if len(msg) >= 12 and struct.unpack("!H", msg[:2])[0] == qid:
                return _parse_reply(msg)
    return None


def _parse_reply(msg: bytes) -> DnsReply:
    _, flags, qd, an, _, _ = struct.unpack("!6H", msg[:12])
    pos = 12
    for _ in range(qd):
        pos = _read_name(msg, pos)[1] + 4
    names = {v: k for k, v in QTYPES.items()}
    answers = []
    for _ in range(an):
        pos = _read_name(msg, pos)[1]
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[pos : pos + 10])
        pos += 10
        answers.append((names.get(rtype, str(rtype)), _rdata_text(msg, rtype, pos, rdlen)))
        pos += rdlen
    rcode = flags & 0xF
    return DnsReply(RCODES.get(rcode, str(rcode)), tuple(answers))


# --------------------------------------------------------------------------
# Helpers


def require_tool(name: str) -> str:
    """Path of a needed binary; skip the test without it, but fail it in CI.

    CI must not go green by silently skipping every real-DNS test.
    """
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path:
        return path
    import pytest  # lazy: this module also works without pytest

    msg = f"{name} not installed (apt-get install rbldnsd unbound dnsutils)"
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def _free_port(tcp_too: bool) -> int:
    """A port free for UDP (and TCP); a small race remains, start retries."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            if not tcp_too:
                return port
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
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


class _Daemon:
    """One child process in its own process group, logging to a file."""

    def __init__(self, name: str, argv: list[str], log: Path, cwd: Path) -> None:
        self.name, self.log = name, log
        with open(log, "ab") as logf:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,
            )

    def log_text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """TERM the whole group, KILL it if slow, always reap."""
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
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
    """Context manager: rbldnsd + unbound (+ droppers) on loopback.

    ``resolver`` is unbound's ``"127.0.0.1:PORT"`` (the plugin's ``-n``),
    ``rbldnsd`` the authoritative server's.  ``hosts`` maps a name to records
    such as ``"A 198.51.100.10"`` or ``"MX 10 mx1.example.test."``, served by
    unbound as local data.  Every name that is neither a zone nor a host is
    NXDOMAIN, answered locally.
    """

    def __init__(
        self,
        zones: Iterable[Zone],
        hosts: Mapping[str, Iterable[str]] | None = None,
        workdir: Path | None = None,
    ) -> None:
        self._zones: dict[str, Zone] = {}
        for zone in zones:
            if zone.name in self._zones:
                raise ValueError(f"zone {zone.name} given twice")
            self._zones[zone.name] = zone
        self._hosts = {
            name.strip(".").lower(): tuple(recs) for name, recs in (hosts or {}).items()
        }
        self._own_dir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix="dnsworld-")) if workdir is None else Path(workdir)
        )
        self.zonedir = self.workdir / "zones"
        self.resolver = ""
        self.rbldnsd = ""
        self.startup_seconds = 0.0
        self._rbl: _Daemon | None = None
        self._unbound: _Daemon | None = None
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
        """Start both daemons and wait until each answers a real query."""
        if self._rbl is not None:
            return
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.zonedir.mkdir(exist_ok=True)
        self.zonedir.chmod(0o755)  # rbldnsd chdirs here, then drops to a user
        _LIVE.add(self)
        try:
            self._start_daemons()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0

    def stop(self) -> None:
        """Kill every daemon (whole process group), close droppers; idempotent."""
        for daemon in (self._unbound, self._rbl):
            if daemon is not None:
                daemon.stop()
        self._unbound = self._rbl = None
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
        a new kind of dataset restarts both daemons on the same ports.
        """
        if self._rbl is None:
            raise DnsWorldError("update() on a world that is not running")
        old = self._zones.get(zone.name)
        self._zones[zone.name] = zone
        if (
            old is None
            or old.behaviour != zone.behaviour
            or zone.behaviour != "serve"
            or _datasets(old).keys() != _datasets(zone).keys()
        ):
            self._restart()
            return
        serial = self._write_zone_files(zone)
        start = len(self._rbl.log_text())
        self._rbl.proc.send_signal(signal.SIGHUP)

        def visible() -> bool:
            self._check_rbldnsd_log(since=start)  # fail fast on rejected data
            return self._serial_seen(self.resolver, zone.name, serial)

        self._wait(visible, UPDATE_TIMEOUT, f"update of {zone.name} never became visible")
        self._check_rbldnsd_log(since=start)

    def query(
        self, name: str, qtype: str = "A", timeout: float = 2.0, server: str | None = None
    ) -> DnsReply | None:
        """Ask the resolver (or ``server``) directly: an oracle for tests."""
        return dns_query(server or self.resolver, name, qtype, timeout)

    def log(self) -> str:
        """Both daemons' logs, for failure messages."""
        parts = []
        for daemon in (self._rbl, self._unbound):
            if daemon is not None:
                parts.append(f"--- {daemon.name} log ---\n{daemon.log_text()}")
        return "\n".join(parts)

    # ------------------------------------------------------------ internals

    def _restart(self) -> None:
        for daemon in (self._unbound, self._rbl):
            if daemon is not None:
                daemon.stop()
        self._unbound = self._rbl = None
        self._start_daemons(keep_ports=True)

    def _start_daemons(self, keep_ports: bool = False) -> None:
        for zone in self._zones.values():
            if zone.behaviour == "drop" and zone.name not in self._droppers:
                # Bound but never read: queries vanish, like a dead server.
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind(("127.0.0.1", 0))
                self._droppers[zone.name] = sock
        for attempt in range(5):
            if not keep_ports or attempt > 0:
                self.rbldnsd = f"127.0.0.1:{_free_port(tcp_too=False)}"
                self.resolver = f"127.0.0.1:{_free_port(tcp_too=True)}"
            try:
                self._start_rbldnsd()
                self._start_unbound()
                return
            except _PortTaken:
                for daemon in (self._unbound, self._rbl):
                    if daemon is not None:
                        daemon.stop()
                self._unbound = self._rbl = None
        raise DnsWorldError("could not bind loopback ports after 5 tries")

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
        self._rbl = _Daemon("rbldnsd", argv + specs, self.workdir / "rbldnsd.log", self.zonedir)
        self._wait_daemon(self._rbl, lambda: self._serial_seen(self.rbldnsd, PROBE_ZONE, None))
        self._check_rbldnsd_log(since=0)

    def _start_unbound(self) -> None:
        exe = require_tool("unbound")
        conf = self.workdir / "unbound.conf"
        conf.write_text(self._unbound_conf(), encoding="utf-8")
        self._unbound = _Daemon(
            "unbound",
            [exe, "-d", "-p", "-c", str(conf)],
            self.workdir / "unbound.log",
            self.workdir,
        )
        self._wait_daemon(
            self._unbound, lambda: self._serial_seen(self.resolver, PROBE_ZONE, None)
        )

    def _unbound_conf(self) -> str:
        host, port = _split_addr(self.resolver)
        rbl = self.rbldnsd.replace(":", "@")
        server = [
            f"interface: {host}",
            f"port: {port}",
            "outgoing-interface: 127.0.0.1",  # cannot reach beyond loopback
            "do-ip4: yes",
            "do-ip6: no",
            "do-udp: yes",
            "do-tcp: yes",
            "access-control: 127.0.0.0/8 allow",
            "do-not-query-localhost: no",  # our servers live on 127.0.0.1
            'chroot: ""',
            'username: ""',
            f'directory: "{self.workdir}"',
            "use-syslog: no",
            'logfile: ""',
            "verbosity: 1",
            'module-config: "iterator"',  # no DNSSEC: no trust anchors
            "num-threads: 1",
            "outgoing-range: 64",
            "num-queries-per-thread: 32",
            "msg-cache-size: 1m",
            "rrset-cache-size: 1m",
            # Nothing is cached, so a changed zone shows on the next query.
            "cache-max-ttl: 0",
            "cache-max-negative-ttl: 0",
            "prefetch: no",
            "serve-expired: no",
            "qname-minimisation: no",  # one full-name query per lookup
            # A "drop" zone: SERVFAIL after ~0.8 s (two 376 ms timeouts), then
            # at once while the dead server is held down (60 s); never a client
            # left without answer (Debian's default discard-timeout is 1.9 s).
            "infra-host-ttl: 60",
            "infra-cache-max-rtt: 500",
            "outbound-msg-retry: 1",
            "discard-timeout: 10000",
            "minimal-responses: yes",
            "hide-version: yes",
            'local-zone: "." static',  # every other name: NXDOMAIN, locally
        ]
        stubs = [(".", rbl)]  # never the real root hints, even by mistake
        for zone in [*self._zones.values(), Zone(PROBE_ZONE)]:
            kind = {"refused": "always_refuse", "timeout": "always_deny"}.get(
                zone.behaviour, "transparent"
            )
            server.append(f'local-zone: "{zone.name}." {kind}')
            if zone.behaviour in ("serve", "servfail"):
                # rbldnsd REFUSES zones it does not serve: prompt SERVFAIL.
                stubs.append((zone.name, rbl))
            elif zone.behaviour == "drop":
                dport = self._droppers[zone.name].getsockname()[1]
                stubs.append((zone.name, f"127.0.0.1@{dport}"))
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
        if reply is None or reply.rcode != "NOERROR":
            return False
        return serial is None or reply.values("TXT") == [str(serial)]

    def _wait_daemon(self, daemon: _Daemon, ready: _Probe) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not daemon.alive():
                text = daemon.log_text()
                if "Address already in use" in text:
                    raise _PortTaken
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
        assert self._rbl is not None
        bad = [
            ln
            for ln in self._rbl.log_text()[since:].splitlines()
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
