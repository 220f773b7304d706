"""DNS messages on the wire, for the hot path.

A network check sends thousands of queries whose answers are almost all
NXDOMAIN or a few A records; dnspython's general message objects cost some
0.5 ms of CPU per query to build and parse (bench/README.md). So queries are
built here as bytes, and replies of the two common shapes (A and TXT answers)
are read here. Anything else, or anything unusual (a compressed question, an
MX answer), is handed to dnspython's full parser, imported only then.
"""

import ipaddress
import struct
from dataclasses import dataclass

A, MX, TXT, AAAA = 1, 15, 16, 28
QR, TC, RD = 0x8000, 0x0200, 0x0100
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
#: EDNS0 OPT record: root name, type 41, UDP payload 1232 (DNS flag day 2020).
_OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")


class WireError(ValueError):
    """A packet that is not a well-formed DNS message."""


@dataclass(frozen=True)
class Parsed:
    """What a reply says: enough to match it and to read its records."""

    qid: int
    flags: int
    rcode: int
    question: bytes  # lower-cased wire form of the question, to match the query's
    records: tuple[str, ...]

    @property
    def rcode_text(self) -> str:
        return RCODES.get(self.rcode, f"RCODE{self.rcode}")


def question(name: str, rdtype: int) -> bytes:
    """The question section for ``name`` (class IN), lower-cased."""
    labels = name.lower().rstrip(".").split(".")
    if any(not 0 < len(label) < 64 for label in labels) or len(name) > 253:
        raise ValueError(f"{name!r} is not a valid query name")
    wire = b"".join(bytes([len(label)]) + label.encode("ascii") for label in labels)
    return wire + b"\x00" + struct.pack("!HH", rdtype, 1)


def query(qid: int, question_wire: bytes) -> bytes:
    """A recursive query (RD) with EDNS0, under ``qid``."""
    return _HEADER.pack(qid, RD, 1, 0, 0, 1) + question_wire + _OPT


def reply_id(data: bytes) -> int:
    if len(data) < 12:
        raise WireError("shorter than a DNS header")
    return int.from_bytes(data[:2], "big")


def parse(data: bytes, rdtype: int) -> Parsed:
    """Read a reply; WireError when it is malformed."""
    try:
        fast = _parse_fast(data, rdtype)
    except (IndexError, struct.error, ValueError):
        fast = None
    return fast if fast is not None else _parse_dnspython(data, rdtype)


def _skip_name(data: bytes, pos: int) -> int:
    """The position after a (possibly compressed) name."""
    while True:
        length = data[pos]
        if length & 0xC0 == 0xC0:
            return pos + 2
        if length & 0xC0:
            raise WireError("bad label type")
        pos += 1 + length
        if length == 0:
            return pos


def _parse_fast(data: bytes, rdtype: int) -> Parsed | None:
    """A and TXT answers with an uncompressed question; None for anything else."""
    qid, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    if qdcount != 1 or rdtype not in (A, TXT):
        return None
    end = 12
    while data[end]:
        if data[end] & 0xC0:
            return None
        end += 1 + data[end]
    end += 5
    if end > len(data):
        return None
    records = []
    pos = end
    if flags & TC:  # truncated: asked again over TCP, so the rest does not matter
        ancount = nscount = arcount = 0
    for _ in range(ancount):
        pos = _skip_name(data, pos)
        rtype, _, _, length = _RR.unpack_from(data, pos)
        pos += _RR.size
        rdata = data[pos : pos + length]
        if len(rdata) != length:
            raise WireError("record runs past the end")
        pos += length
        if flags & 0xF or rtype != rdtype:
            continue
        if rdtype == A and length == 4:
            records.append(str(ipaddress.IPv4Address(rdata)))
        elif rdtype == TXT:
            records.append(_txt(rdata).decode("utf-8", "replace"))
    for _ in range(nscount + arcount):  # a careful client reads to the end
        pos = _skip_name(data, pos)
        pos += _RR.size + _RR.unpack_from(data, pos)[3]
    if not flags & TC and pos != len(data):
        raise WireError("length does not match the records")
    return Parsed(qid, flags, flags & 0xF, data[12:end].lower(), tuple(records))


def _txt(rdata: bytes) -> bytes:
    """The character-strings of a TXT record, joined."""
    parts, pos = [], 0
    while pos < len(rdata):
        length = rdata[pos]
        if pos + 1 + length > len(rdata):
            raise WireError("TXT string runs past its record")
        parts.append(rdata[pos + 1 : pos + 1 + length])
        pos += 1 + length
    return b"".join(parts)


def _parse_dnspython(data: bytes, rdtype: int) -> Parsed:
    """dnspython's full parser, for what the fast path leaves (e.g. MX, AAAA).

    Any exception it raises means a malformed packet: older dnspython (2.3)
    raises ValueError and others, not only DNSException."""
    import dns.message

    try:
        msg = dns.message.from_wire(data)
        if len(msg.question) != 1:
            raise WireError("not one question")
        q = msg.question[0]
        wire = (q.name.to_wire() or b"").lower() + struct.pack("!HH", q.rdtype, q.rdclass)
        records = []
        for rrset in msg.answer:
            if rrset.rdtype != rdtype:
                continue
            for rdata in rrset:
                if rdtype == TXT:
                    records.append(b"".join(rdata.strings).decode("utf-8", "replace"))
                elif rdtype == MX:
                    records.append(rdata.exchange.to_text())
                else:
                    records.append(rdata.address)
    except WireError:
        raise
    except Exception as exc:
        raise WireError(str(exc)) from None
    return Parsed(msg.id, msg.flags, msg.rcode(), wire, tuple(records))
