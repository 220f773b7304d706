"""DNS servers that misbehave on demand, for the fault matrix (issue 7).

A real resolver cannot be told to truncate one zone's answers, to send a
packet with the wrong ID, or to put a ``|`` in a TXT record. These small
servers can: each plays the *recursive resolver* the plugin talks to
(``-n 127.0.0.1:PORT``) and answers for a few DNSBL zones, one of which may
misbehave while the others serve honestly, so every fault can be checked for
the one thing that matters: the other lists' verdicts stay intact.

Rules, as for ``dnsworld``: loopback only (127.0.0.1 or ::1, port 0), one
daemon thread per server, a context manager that stops and joins it, and a
``lifetime`` after which the thread ends by itself even if nobody stops it.

Typical use::

    zone = FakeZone("bad.test", fault="tc")
    with FaultResolver([FakeZone("good.test", listed={"192.0.2.99": ("127.0.0.2",)}), zone]) as r:
        run_plugin("-n", r.address, "-s", "good.test", "-s", "bad.test", ...)
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import re
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rrset

__all__ = [
    "FAULTS",
    "MALFORMED",
    "MAX_OUTPUT",
    "TCP_MALFORMED",
    "TEST_ENTRIES",
    "FakeZone",
    "FaultResolver",
    "closed_port",
    "junk_packets",
    "output_problems",
    "raw_reply",
    "rr",
    "txt_strings",
]

#: How one zone misbehaves on UDP (over TCP it answers honestly, or ``tcp_junk``):
#: "serve"            honest answers;
#: "drop"             never answers;
#: "servfail"/"refused"  that rcode for every name in the zone;
#: "answer"           ``FakeZone.answer`` (A records) for every name in the zone;
#: "tc"               an empty reply with the TC bit: the client must ask over TCP;
#: "garbage"          only malformed packets (``junk_packets``, or ``FakeZone.junk``);
#: "wrong-id"         the honest answer under another query ID;
#: "wrong-question"   right ID, but an answer (127.0.0.2) to another name;
#: "<fault>+answer"   for the three above: the junk first, then the honest answer.
FAULTS = (
    "serve",
    "drop",
    "servfail",
    "refused",
    "answer",
    "tc",
    "garbage",
    "garbage+answer",
    "wrong-id",
    "wrong-id+answer",
    "wrong-question",
    "wrong-question+answer",
)

#: RFC 5782 §5 entries that must be listed, as the server decodes them.
TEST_ENTRIES = frozenset({"127.0.0.2", "::ffff:7f00:2"})

#: TCP behaviour of the whole server: "serve", "closed" (bound, not listening:
#: connections are refused), "hangup" (accepted, then closed unanswered) or
#: "garbage" (a malformed reply under the query's ID).
TCP_MODES = ("serve", "closed", "hangup", "garbage")

_LATER = 0.02  # seconds between the junk and the honest answer of a "+answer" fault
_MAX_TCP = 64  # connections kept open at once (bounded, the oldest goes first)


@dataclass(frozen=True)
class FakeZone:
    """One DNSBL zone as a fault server answers for it.

    ``listed`` maps an address (as ``ipaddress`` prints it) to its A codes;
    the RFC 5782 test entry 127.0.0.2 (and ::ffff:7f00:2) answers 127.0.0.2
    unless ``test_entry`` is false. ``txt`` maps a listed address to its TXT
    strings (bytes, each at most 255). ``delay`` holds every reply back.
    ``junk`` replaces ``junk_packets`` for the "garbage" faults (fuzzing, one
    malformed shape); ``tcp_junk`` replaces the honest reply over TCP.
    """

    name: str
    listed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    txt: Mapping[str, tuple[bytes, ...]] = field(default_factory=dict)
    fault: str = "serve"
    answer: tuple[str, ...] = ()
    delay: float = 0.0
    test_entry: bool = True
    junk: Callable[[dns.message.Message, bytes], list[bytes]] | None = None
    tcp_junk: Callable[[dns.message.Message, bytes], bytes] | None = None

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"fault {self.fault!r} not in {FAULTS}")
        object.__setattr__(self, "name", self.name.strip(".").lower())

    def codes(self, address: str) -> tuple[str, ...]:
        """The A records of ``address`` in this zone (empty: not listed)."""
        if address in self.listed:
            return self.listed[address]
        if self.test_entry and address in TEST_ENTRIES:
            return ("127.0.0.2",)
        return ()


def txt_strings(data: bytes) -> tuple[bytes, ...]:
    """``data`` cut into TXT character-strings of at most 255 bytes."""
    return tuple(data[i : i + 255] for i in range(0, len(data), 255)) or (b"",)


def closed_port(host: str = "127.0.0.1") -> int:
    """A loopback UDP port nobody listens on right now (a resolver that is down)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def _address(labels: list[str]) -> str | None:
    """The address whose reversed labels these are (4 octets or 32 nibbles)."""
    try:
        if len(labels) == 4:
            return str(ipaddress.IPv4Address(".".join(reversed(labels))))
        if len(labels) == 32:
            nibbles = "".join(reversed(labels))
            return str(
                ipaddress.IPv6Address(":".join(nibbles[i : i + 4] for i in range(0, 32, 4)))
            )
    except ValueError:
        return None
    return None


def junk_packets(query: dns.message.Message, honest: bytes) -> list[bytes]:
    """Malformed or non-matching packets, most of them under the query's ID.

    Each must be ignored by a careful client: empty and 1-byte datagrams,
    a header promising a question it lacks, an answer whose rdata runs past
    the end, a compression-pointer loop, a cut-off reply, trailing junk, the
    query echoed back (QR clear) and noise whose opcode is 7 (unassigned:
    dnspython 2.3 raises ValueError, not a DNSException, for it).
    """
    qid = struct.pack("!H", query.id)
    header_only = qid + struct.pack("!5H", 0x8180, 1, 0, 0, 0)
    loop = qid + struct.pack("!5H", 0x8180, 1, 0, 0, 0) + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    overrun = (
        qid
        + struct.pack("!5H", 0x8180, 0, 1, 0, 0)
        + b"\x00"  # root name
        + struct.pack("!HHIH", 1, 1, 0, 200)  # A record, rdlength 200
        + b"\x7f\x00"
    )
    echoed = bytearray(query.to_wire())
    echoed[2] &= 0x7F  # QR clear: a query, not a response
    noise = qid + bytes((i * 73 + 41) % 256 for i in range(2, 97))
    return [
        b"",
        b"\x00",
        header_only,
        loop,
        overrun,
        honest[: max(12, len(honest) - 5)],
        honest + b"\x00\x01junk",
        bytes(echoed),
        noise,
    ]


class FaultResolver:
    """A UDP+TCP "resolver" on loopback answering for ``zones``, faults included.

    Resolver-wide faults: ``rcode`` ("SERVFAIL", "REFUSED", ...) answers every
    query with that rcode; ``delay`` holds every UDP reply back;
    ``rewrite_nxdomain`` turns every NXDOMAIN for an A query into that address
    (an ISP "search helper"); ``tcp`` picks the TCP behaviour (``TCP_MODES``).
    ``any_zone`` answers, like its template, for any zone not in ``zones``
    (names of 4 or 32 address labels under any suffix): 500 lists at once.
    Replies larger than the query's EDNS payload (512 without EDNS) are sent
    truncated, as a real server does.
    """

    def __init__(
        self,
        zones: Iterable[FakeZone] = (),
        *,
        any_zone: FakeZone | None = None,
        rcode: str | None = None,
        delay: float = 0.0,
        rewrite_nxdomain: str | None = None,
        tcp: str = "serve",
        host: str = "127.0.0.1",
        lifetime: float = 60.0,
    ) -> None:
        if tcp not in TCP_MODES:
            raise ValueError(f"tcp {tcp!r} not in {TCP_MODES}")
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"fault servers live on loopback only, not {host}")
        self.zones = {z.name: z for z in zones}
        self.any_zone = any_zone
        self.rcode = None if rcode is None else dns.rcode.from_text(rcode)
        self.delay = delay
        self.rewrite_nxdomain = rewrite_nxdomain
        self.tcp_mode = tcp
        self.host = host
        self.lifetime = lifetime
        self.port = 0
        #: Counters, for assertions: queries seen per transport, packets sent.
        self.udp_queries = 0
        self.tcp_queries = 0
        self.sent = 0
        #: Exceptions inside the server thread: a bug in the test, raised at exit.
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._conns: dict[socket.socket, bytearray] = {}
        self._queue: list[tuple[float, int, bytes, Any]] = []
        self._seq = itertools.count()

    # ---------------------------------------------------------------- API

    @property
    def address(self) -> str:
        """The plugin's ``-n`` value."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __enter__(self) -> FaultResolver:
        self._bind()
        self._thread = threading.Thread(
            target=self._serve, name=f"faultserver-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self.errors and exc_type is None:
            raise AssertionError("fault server failed:\n" + "\n".join(self.errors))

    def stop(self) -> None:
        """Stop the thread and close every socket (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            if self._thread.is_alive():
                self.errors.append("server thread did not stop")
        for sock in [self._udp, self._tcp, *self._conns]:
            if sock is not None:
                sock.close()
        self._conns.clear()

    # ------------------------------------------------------------ sockets

    def _bind(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for _ in range(20):  # the UDP port must be free for TCP too
            udp = socket.socket(family, socket.SOCK_DGRAM)
            udp.bind((self.host, 0))
            port = udp.getsockname()[1]
            tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                tcp.bind((self.host, port))
            except OSError:
                udp.close()
                tcp.close()
                continue
            break
        else:
            raise OSError("no loopback port free for both UDP and TCP")
        for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            try:  # 256 queries arrive at once: room for them all
                if opt is not None:
                    udp.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
                    break
            except OSError:
                continue
        udp.setblocking(False)
        if self.tcp_mode != "closed":  # "closed": bound, never listening: RST
            tcp.listen(64)
            tcp.setblocking(False)
        self._udp, self._tcp, self.port = udp, tcp, port

    def _serve(self) -> None:
        assert self._udp is not None and self._tcp is not None
        sel = selectors.DefaultSelector()
        sel.register(self._udp, selectors.EVENT_READ, "udp")
        if self.tcp_mode != "closed":
            sel.register(self._tcp, selectors.EVENT_READ, "accept")
        end = time.monotonic() + self.lifetime
        try:
            while not self._stop.is_set() and (now := time.monotonic()) < end:
                self._flush(now)
                wait = 0.05 if not self._queue else min(0.05, max(0.0, self._queue[0][0] - now))
                for key, _ in sel.select(wait):
                    try:
                        self._ready(sel, key)
                    except Exception as exc:  # a test-server bug: report it at exit
                        self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            sel.close()

    def _ready(self, sel: selectors.BaseSelector, key: selectors.SelectorKey) -> None:
        sock = key.fileobj
        assert isinstance(sock, socket.socket)
        if key.data == "udp":
            for _ in range(1000):  # bounded drain
                try:
                    data, peer = sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    return
                self.udp_queries += 1
                for delay, packet in self._udp_replies(data):
                    heapq.heappush(
                        self._queue, (time.monotonic() + delay, next(self._seq), packet, peer)
                    )
        elif key.data == "accept":
            conn, _ = sock.accept()
            if self.tcp_mode == "hangup":
                conn.close()
                return
            conn.settimeout(1.0)
            if len(self._conns) >= _MAX_TCP:
                oldest = next(iter(self._conns))
                sel.unregister(oldest)
                oldest.close()
                del self._conns[oldest]
            self._conns[conn] = bytearray()
            sel.register(conn, selectors.EVENT_READ, "tcp")
        else:
            self._tcp_read(sel, sock)

    def _tcp_read(self, sel: selectors.BaseSelector, conn: socket.socket) -> None:
        try:
            chunk = conn.recv(65535)
        except OSError:
            chunk = b""
        if not chunk:
            sel.unregister(conn)
            conn.close()
            del self._conns[conn]
            return
        buf = self._conns[conn]
        buf += chunk
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
            length = struct.unpack("!H", buf[:2])[0]
            data = bytes(buf[2 : 2 + length])
            del buf[: 2 + length]
            self.tcp_queries += 1
            reply = self._tcp_reply(data)
            if reply is not None:
                conn.sendall(struct.pack("!H", len(reply)) + reply)
                self.sent += 1

    def _flush(self, now: float) -> None:
        assert self._udp is not None
        while self._queue and self._queue[0][0] <= now:
            _, _, packet, peer = heapq.heappop(self._queue)
            try:
                self._udp.sendto(packet, peer)
                self.sent += 1
            except OSError:  # the client went away: fine
                continue

    # ------------------------------------------------------------ answers

    def _zone(self, qname: str) -> tuple[FakeZone | None, str | None]:
        """The zone a name falls in, and the address it asks about."""
        labels = qname.split(".")
        for zone_name, zone in self.zones.items():
            if qname.endswith("." + zone_name):
                return zone, _address(labels[: len(labels) - zone_name.count(".") - 1])
        if self.any_zone is not None:
            for n in (4, 32):
                if len(labels) > n + 1:
                    address = _address(labels[:n])
                    if address is not None:
                        return self.any_zone, address
        return None, None

    def _honest(self, query: dns.message.Message) -> tuple[dns.message.Message, FakeZone | None]:
        """The truthful reply, with the resolver-wide faults applied."""
        reply = dns.message.make_response(query, recursion_available=True)
        if self.rcode is not None:
            reply.set_rcode(self.rcode)
            return reply, None
        question = query.question[0]
        qname = question.name.to_text(omit_final_dot=True).lower()
        zone, address = self._zone(qname)
        codes = zone.codes(address) if zone is not None and address is not None else ()
        if zone is not None and zone.fault == "servfail":
            reply.set_rcode(dns.rcode.SERVFAIL)
        elif zone is not None and zone.fault == "refused":
            reply.set_rcode(dns.rcode.REFUSED)
        elif zone is not None and zone.fault == "answer":
            if question.rdtype == dns.rdatatype.A:
                _add_a(reply, question.name, zone.answer)
        elif not codes:
            if self.rewrite_nxdomain and question.rdtype == dns.rdatatype.A:
                _add_a(reply, question.name, (self.rewrite_nxdomain,))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A:
            _add_a(reply, question.name, codes)
        elif question.rdtype == dns.rdatatype.TXT and address in zone.txt:  # type: ignore[union-attr]
            rdata = dns.rdtypes.ANY.TXT.TXT(
                dns.rdataclass.IN,
                dns.rdatatype.TXT,
                zone.txt[address],  # type: ignore[union-attr, index]
            )
            reply.answer.append(dns.rrset.from_rdata(question.name, 0, rdata))
        return reply, zone

    def _udp_replies(self, data: bytes) -> list[tuple[float, bytes]]:
        """(delay, packet) pairs to send for one UDP query: the fault at work."""
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return []
        if not query.question:
            return []
        reply, zone = self._honest(query)
        fault = zone.fault if zone is not None else "serve"
        delay = self.delay + (zone.delay if zone is not None else 0.0)
        limit = max(512, query.payload) if query.edns >= 0 else 512
        honest = reply.to_wire(max_size=65535)
        if fault == "tc" or len(honest) > limit:
            truncated = dns.message.make_response(query, recursion_available=True)
            truncated.set_rcode(reply.rcode())
            truncated.flags |= dns.flags.TC
            return [(delay, truncated.to_wire())]
        if fault == "drop":
            return []
        base, _, then = fault.partition("+")
        if base == "garbage":
            junk = (zone.junk or junk_packets)(query, honest)  # type: ignore[union-attr]
        elif base == "wrong-id":
            other = bytearray(honest)
            other[0] ^= 0x80
            junk = [bytes(other)]
        elif base == "wrong-question":
            decoy = dns.message.make_query(
                "2.0.0.127.decoy.invalid", dns.rdatatype.A, use_edns=0, payload=1232
            )
            decoy.id = query.id
            wrong = dns.message.make_response(decoy, recursion_available=True)
            _add_a(wrong, decoy.question[0].name, ("127.0.0.2",))
            junk = [wrong.to_wire()]
        else:
            return [(delay, honest)]
        packets = [(delay, packet) for packet in junk]
        return [*packets, (delay + _LATER, honest)] if then else packets

    def _tcp_reply(self, data: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        reply, zone = self._honest(query)
        honest = reply.to_wire(max_size=65535)
        if zone is not None and zone.tcp_junk is not None:
            return zone.tcp_junk(query, honest)
        return junk_packets(query, honest)[-1] if self.tcp_mode == "garbage" else honest


def _add_a(reply: dns.message.Message, name: dns.name.Name, addresses: Iterable[str]) -> None:
    rdatas = [dns.rdtypes.IN.A.A(dns.rdataclass.IN, dns.rdatatype.A, a) for a in addresses]
    if rdatas:
        reply.answer.append(dns.rrset.from_rdata_list(name, 0, rdatas))


# --------------------------------------------------------------------------
# Malformed replies, shape by shape: served by the fault matrix, parsed by test_wire

#: The record types and classes the shapes use.
_A, _NS, _CNAME, _SOA, _OPT = 1, 2, 5, 6, 41
_IN, _CH = 1, 3
_LOOPBACK_2 = bytes([127, 0, 0, 2])
_QUESTION_NAME = b"\xc0\x0c"  # a pointer to the question's name


def rr(
    rtype: int, rdata: bytes, *, owner: bytes = _QUESTION_NAME, rclass: int = _IN, ttl: int = 60
) -> bytes:
    """One resource record in wire form, owned by the question's name unless
    ``owner`` says otherwise (wire form, compressed or not)."""
    return owner + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def raw_reply(
    query: dns.message.Message,
    answer: Iterable[bytes] = (),
    authority: Iterable[bytes] = (),
    additional: Iterable[bytes] = (),
    *,
    flags: int = 0x8180,
    rcode: int = 0,
    questions: int = 1,
    counts: tuple[int, int, int] | None = None,
    qid: int | None = None,
) -> bytes:
    """A reply to ``query`` put together byte by byte, as dnspython would never
    build it: its ID (or ``qid``), ``flags`` (QR RD RA) with ``rcode``, the
    question ``questions`` times, the records as given (``rr``); ``counts``
    overrides the header's record counts."""
    sections = [list(answer), list(authority), list(additional)]
    q = query.question[0]
    question = _name(q.name) + struct.pack("!HH", q.rdtype, q.rdclass)
    header = struct.pack(
        "!6H",
        query.id if qid is None else qid,
        flags | rcode,
        questions,
        *(counts or [len(section) for section in sections]),
    )
    return header + question * questions + b"".join(b"".join(s) for s in sections)


def _pointer_to_itself(query: dns.message.Message) -> bytes:
    """An A record whose owner name is a pointer to itself."""
    offset = 12 + len(_name(query.question[0].name)) + 4
    return raw_reply(query, [rr(_A, _LOOPBACK_2, owner=struct.pack("!H", 0xC000 | offset))])


def _name(name: str | dns.name.Name) -> bytes:
    """A name in wire form, uncompressed."""
    wire = (dns.name.from_text(name) if isinstance(name, str) else name).to_wire()
    assert wire is not None  # None only when writing to a file
    return wire


def _other_question(query: dns.message.Message) -> bytes:
    """A listing (127.0.0.2) for another name, under the query's ID."""
    decoy = dns.message.make_query("2.0.0.127.decoy.invalid", dns.rdatatype.A)
    decoy.id = query.id
    return raw_reply(decoy, [rr(_A, _LOOPBACK_2)])


_LISTED = [rr(_A, _LOOPBACK_2)]


def _listed(**header: Any) -> Callable[[dns.message.Message], bytes]:
    """A listing (127.0.0.2) under a header made wrong by ``header`` (raw_reply's)."""
    return lambda query: raw_reply(query, _LISTED, **header)


_OPT_RR = rr(_OPT, b"", owner=b"\x00", rclass=1232, ttl=0)
_LOOP = _name("loop.invalid.")
_SOA_SHORT = b"\x00\x00" + bytes(12)  # root, root, then 12 bytes where 20 belong

#: name -> (the packet answering an A query, what the client must say is wrong).
#: Each would become a verdict if read carelessly: the listing 127.0.0.2 hides
#: in most of them, an NXDOMAIN or an empty answer in the others.
MALFORMED: dict[str, tuple[Callable[[dns.message.Message], bytes], str]] = {
    "A record of 3 bytes": (
        lambda q: raw_reply(q, [rr(_A, _LOOPBACK_2[:3])]),
        "A record of 3 bytes",
    ),
    "A record of 5 bytes": (
        lambda q: raw_reply(q, [rr(_A, _LOOPBACK_2 + b"\x00")]),
        "A record of 5 bytes",
    ),
    "owner name is a compression loop": (
        _pointer_to_itself,
        "compression pointer forward or in a loop",
    ),
    "owner name points past the end": (
        lambda q: raw_reply(q, [rr(_A, _LOOPBACK_2, owner=b"\xff\xff")]),
        "compression pointer past the end",
    ),
    "answer of class CH": (
        lambda q: raw_reply(q, [rr(_A, _LOOPBACK_2, rclass=_CH)]),
        "answer of class CH",
    ),
    "A record for another name": (
        lambda q: raw_reply(q, [rr(_A, _LOOPBACK_2, owner=_name("2.0.0.127.decoy.invalid."))]),
        "A record for another name",
    ),
    "NXDOMAIN with an A record": (_listed(rcode=3), "NXDOMAIN with A records"),
    "CNAME loop": (
        lambda q: raw_reply(q, [rr(_CNAME, _LOOP), rr(_CNAME, _QUESTION_NAME, owner=_LOOP)]),
        "CNAME chain of 16 links or a CNAME loop",
    ),
    "CNAME beside an A record": (
        lambda q: raw_reply(q, [rr(_CNAME, _LOOP), *_LISTED]),
        "CNAME and A records for one name",
    ),
    "two CNAMEs for one name": (
        lambda q: raw_reply(q, [rr(_CNAME, _LOOP), rr(_CNAME, _name("other.invalid."))]),
        "two CNAME records for one name",
    ),
    "QR clear": (_listed(flags=0x0180), "QR bit clear: a query, not a response"),
    "opcode STATUS": (_listed(flags=0x9180), "opcode 2, not QUERY"),
    "no question": (_listed(questions=0), "0 questions, not 1"),
    "two questions": (_listed(questions=2), "2 questions, not 1"),
    "fewer records than announced": (_listed(counts=(2, 0, 0)), "2 records announced, 1 present"),
    "bytes after the last record": (_listed(counts=(0, 0, 0)), "16 bytes after the last record"),
    "record running past the end": (
        lambda q: raw_reply(q, [rr(_A, _LOOPBACK_2)[:-2]]),
        "A record runs past the end",
    ),
    "name longer than 255 bytes": (
        lambda q: raw_reply(
            q, _LISTED, [rr(_NS, b"\x00", owner=(b"\x3f" + b"x" * 63) * 4 + b"\x00")]
        ),
        "name longer than 255 bytes",
    ),
    "label type 0x40": (
        lambda q: raw_reply(q, [rr(_A, _LOOPBACK_2, owner=b"\x41" + b"x" * 65 + b"\x00")]),
        "label type 0x40",
    ),
    "label type 0x80": (
        lambda q: raw_reply(q, [rr(_A, _LOOPBACK_2, owner=b"\x81\x00")]),
        "label type 0x80",
    ),
    "OPT record in the answer": (
        lambda q: raw_reply(q, [_OPT_RR, *_LISTED]),
        "OPT record not once, for the root, in the additional section",
    ),
    "two OPT records": (
        lambda q: raw_reply(q, _LISTED, additional=[_OPT_RR, _OPT_RR]),
        "OPT record not once, for the root, in the additional section",
    ),
    "NXDOMAIN whose SOA is cut short": (
        lambda q: raw_reply(q, authority=[rr(_SOA, _SOA_SHORT)], rcode=3),
        "SOA record of 14 bytes",
    ),
    "NS record longer than its name": (
        lambda q: raw_reply(q, _LISTED, authority=[rr(_NS, _LOOP + b"\x00")]),
        "NS record longer than its name",
    ),
}

#: name -> (the TCP reply to an A query whose UDP reply had TC set, what the client must say).
TCP_MALFORMED: dict[str, tuple[Callable[[dns.message.Message], bytes], str]] = {
    "TC set again, an A record inside": (
        lambda q: raw_reply(q, _LISTED, flags=0x8380),
        "TC bit set on a TCP reply",
    ),
    "under another ID": (
        lambda q: raw_reply(q, _LISTED, qid=q.id ^ 0x5A5A),
        "reply under another ID",
    ),
    "to another question": (_other_question, "reply to another question"),
    "A record of 3 bytes": MALFORMED["A record of 3 bytes"],
}


# --------------------------------------------------------------------------
# What a monitoring core reads: shared by the fault matrix and the fuzz tests

#: Bytes of plugin output Nagios reads by default (MAX_PLUGIN_OUTPUT_LENGTH).
MAX_OUTPUT = 8192
_NUM = r"-?\d+(?:\.\d+)?"
_RANGE = rf"@?(?:~|{_NUM})?(?::(?:{_NUM})?)?"
#: One perfdata item with a Graphite-safe label: label=value[uom];warn;crit;min;max
PERF_ITEM = re.compile(
    rf"[A-Za-z0-9_]+={_NUM}(?:s|ms|us|%|B|KB|MB|TB|c)?"
    rf"(?:;(?:{_RANGE})?){{0,2}}(?:;(?:{_NUM})?){{0,2}}"
)
#: C0/C1 controls, zero-width and bidi controls, line/paragraph separators, U+FFFD.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufffd]")


def output_problems(stdout: str) -> list[str]:
    """What Nagios would choke on in a plugin's output (empty: none).

    At most one perfdata line, last, every item parsing; no other ``|``; no
    control characters; no nagiosplugin warning about screened characters.
    """
    problems = []
    lines = stdout.splitlines()
    if not lines or not lines[0].startswith("DNSBL "):
        problems.append("first line does not start with 'DNSBL '")
    perf = [i for i, line in enumerate(lines) if line.startswith("| ")]
    if perf not in ([], [len(lines) - 1]):
        problems.append(f"perfdata on lines {perf} of {len(lines)}")
    if stdout.count("|") != len(perf):
        problems.append("'|' outside the perfdata separator")
    for i in perf:
        problems += [
            f"bad perfdata item {it!r}"
            for it in lines[i][2:].split()
            if not PERF_ITEM.fullmatch(it)
        ]
    if CONTROL.search(stdout):
        problems.append(f"control character {CONTROL.search(stdout).group()!r}")  # type: ignore[union-attr]
    if "warning: removed illegal characters" in stdout:
        problems.append("nagiosplugin had to remove '|'")
    return problems
