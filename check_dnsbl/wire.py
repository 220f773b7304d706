"""DNS messages on the wire, for the hot path.

A network check sends thousands of queries whose answers are almost all
NXDOMAIN or a few A records; dnspython's general message objects cost some
0.5 ms of CPU per query to build and parse (bench/README.md). So queries are
built here as bytes, and replies to A and TXT questions are read here when
they hold only the record types such replies hold (A, AAAA, NS, CNAME, SOA,
TXT, an OPT without options). Anything else is handed to dnspython's full
parser, imported only then.

Only a well-formed reply that answers consistently becomes a ``Parsed``;
anything else is a ``WireError`` saying what is wrong. The rules, on both
paths alike (``tests/test_wire.py`` holds them to dnspython's own parser):

- the header says response (QR), opcode QUERY, exactly one question;
- names as dnspython reads them: labels of at most 63 bytes, compression
  pointers strictly backwards (no loops), at most 16 in a name, never into
  the name pointing at them; at most 255 bytes;
- every record announced is there, within the packet, rdata as its type
  demands (A 4 bytes, TXT one or more strings, ...); nothing after the last;
  at most one OPT, owned by the root, in the additional section;
- the answer: every record of the question's class; records of the asked
  type only at the end of the CNAME chain from the question name (shorter
  than 16 links, one target per name), none with NXDOMAIN.

A reply with TC set is read only to its question: it says "ask over TCP".
Records of other types, other sections and rdata we do not use are checked
for form, never read further.
"""

import struct
from collections.abc import Sequence
from typing import Any, NamedTuple

A, NS, CNAME, SOA, MX, TXT, AAAA, OPT = 1, 2, 5, 6, 15, 16, 28, 41
IN = 1
QR, AA, TC, RD = 0x8000, 0x0400, 0x0200, 0x0100
_OPCODE = 0x7800
RCODES = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
    16: "BADVERS",
}
_TYPES = {A: "A", NS: "NS", CNAME: "CNAME", SOA: "SOA", MX: "MX", TXT: "TXT", AAAA: "AAAA"}
_CLASSES = {IN: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
#: Limits of dnspython (the reference): links in a CNAME chain, pointers in a name.
_MAX_CHAIN = 16
_MAX_POINTERS = 16
#: EDNS0 OPT record: root name, type 41, UDP payload 1232 (DNS flag day 2020).
_OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_QUESTION_TAIL = struct.Struct("!HH")
#: name offset -> (lower-cased name, position after it, pointers followed): a
#: name read once need not be read again when a pointer leads to it.
_Names = dict[int, tuple[bytes, int, int]]


class WireError(ValueError):
    """A packet that is not a well-formed, consistent DNS reply."""


class Parsed(NamedTuple):
    """What a reply says: enough to match it and to read its records (a tuple:
    the cheapest object to make, one per reply)."""

    qid: int
    flags: int
    rcode: int  # with the EDNS extended bits
    question: bytes  # wire form of the question, name lower-cased, to match the query's
    records: tuple[str, ...]  # the asked type at the end of the CNAME chain

    @property
    def rcode_text(self) -> str:
        return RCODES.get(self.rcode, f"RCODE{self.rcode}")


def _type_text(rdtype: int) -> str:
    return _TYPES.get(rdtype, f"TYPE{rdtype}")


def question(name: str, rdtype: int) -> bytes:
    """The question section for ``name`` (class IN), lower-cased."""
    labels = name.lower().rstrip(".").split(".")
    if any(not 0 < len(label) < 64 for label in labels) or len(name) > 253:
        raise ValueError(f"{name!r} is not a valid query name")
    wire = b"".join(bytes([len(label)]) + label.encode("ascii") for label in labels)
    return wire + b"\x00" + struct.pack("!HH", rdtype, IN)


def query(qid: int, question_wire: bytes, recursive: bool = True) -> bytes:
    """A query with EDNS0, under ``qid``: recursive (RD) unless it goes to
    a zone's own server (--direct)."""
    return _HEADER.pack(qid, RD if recursive else 0, 1, 0, 0, 1) + question_wire + _OPT


def reply_id(data: bytes) -> int:
    if len(data) < 12:
        raise WireError("shorter than a DNS header")
    return int.from_bytes(data[:2], "big")


def parse(data: bytes) -> Parsed:
    """Read a reply; WireError, saying what is wrong, when it is not a
    well-formed, consistent one (the rules above)."""
    if len(data) < 12:
        raise WireError("shorter than a DNS header")
    header = _HEADER.unpack_from(data)
    flags, qdcount = header[1], header[2]
    if not flags & QR:
        raise WireError("QR bit clear: a query, not a response")
    if flags & _OPCODE:
        raise WireError(f"opcode {flags >> 11 & 0xF}, not QUERY")
    if qdcount != 1:
        raise WireError(f"{qdcount} questions, not 1")
    fast = _parse_fast(data, header)
    return fast if fast is not None else _parse_dnspython(data, header[0], flags)


def _parse_fast(data: bytes, header: tuple[int, ...]) -> Parsed | None:
    """A and TXT questions; None when dnspython must judge (a compressed
    question, a record of another type or class, EDNS options)."""
    qid, flags, _, ancount, nscount, arcount = header
    size = len(data)
    labels = _question_labels(data)
    if labels is None:
        return None
    qname_end = labels.pop()
    qname = data[12:qname_end].lower()
    question_wire = qname + data[qname_end : qname_end + 4]
    if flags & TC:
        return Parsed(qid, flags, flags & 0xF, question_wire, ())
    qtype, qclass = _QUESTION_TAIL.unpack_from(data, qname_end)
    if qtype not in (A, TXT) or qclass != IN:
        return None
    # Pointers mostly lead into the question: its suffixes are names read already
    # (b"": not lower-cased yet, see _name).
    names: _Names = dict.fromkeys(labels, (b"", qname_end, 0))
    rcode, answer, opt = flags & 0xF, [], False
    pos = qname_end + 4
    total = ancount + nscount + arcount
    for index in range(total):
        if pos >= size:
            raise WireError(f"{total} records announced, {index} present")
        owner, pos = _name(data, pos, size, names)
        if pos + 10 > size:
            raise WireError("record runs past the end")
        rtype, rclass, ttl, rdlength = _RR.unpack_from(data, pos)
        pos += 10
        end = pos + rdlength
        if end > size:
            raise WireError(f"{_type_text(rtype)} record runs past the end")
        if rtype == OPT:
            if index < ancount + nscount or opt or owner != b"\x00":
                raise WireError("OPT record not once, for the root, in the additional section")
            if rdlength:
                return None
            opt = True
            rcode |= ttl >> 20 & 0xFF0
        elif index < ancount:
            if rclass != qclass:
                raise WireError(f"answer of class {_class_text(rclass)}")
            value = _rdata(data, rtype, pos, end, names)
            if value is None:
                return None
            answer.append((owner, rtype, value))
        elif rclass != IN or _rdata(data, rtype, pos, end, names) is None:
            return None
        pos = end
    if pos != size:
        raise WireError(f"{size - pos} bytes after the last record")
    found = _select(qname, qtype, rcode, answer)
    if qtype == A:
        records = tuple(f"{r[0]}.{r[1]}.{r[2]}.{r[3]}" for r in found)
    else:
        records = tuple(_txt(rdata).decode("utf-8", "replace") for rdata in found)
    return Parsed(qid, flags, rcode, question_wire, records)


def _question_labels(data: bytes) -> list[int] | None:
    """Where the labels of the question's name start, then where the name
    ends; None if it is compressed (a pointer could only lead into the header)."""
    pos, labels, size = 12, [], len(data)
    while True:
        if pos >= size:
            raise WireError("question runs past the end")
        length = data[pos]
        if not length:
            break
        if length > 63:
            return None
        labels.append(pos)
        pos += 1 + length
    if pos + 1 - 12 > 255:
        raise WireError("name longer than 255 bytes")
    if pos + 5 > size:
        raise WireError("question runs past the end")
    return [*labels, pos + 1]


def _rdata(data: bytes, rtype: int, pos: int, end: int, names: _Names) -> bytes | None:
    """The rdata of a class IN record, checked for form: the target of a CNAME
    (lower-cased wire form), the bytes of others; None for a type left to dnspython."""
    if rtype in (A, AAAA):
        if end - pos != (4 if rtype == A else 16):
            raise WireError(f"{_type_text(rtype)} record of {end - pos} bytes")
    elif rtype == TXT:
        _txt(data[pos:end])
    elif rtype in (CNAME, NS):
        target, after = _name(data, pos, end, names)
        if after != end:
            raise WireError(f"{_type_text(rtype)} record longer than its name")
        return target
    elif rtype == SOA:
        if _name(data, _name(data, pos, end, names)[1], end, names)[1] + 20 != end:
            raise WireError(f"SOA record of {end - pos} bytes")
    else:
        return None
    return data[pos:end]


def _name(data: bytes, pos: int, end: int, names: _Names) -> tuple[bytes, int]:
    """The lower-cased wire form of the name at ``pos`` and the position after
    it, read by dnspython's rules (the module docstring); ``end`` bounds it."""
    origin = start = biggest = pos
    labels, tail, after, hops = b"", b"\x00", 0, 0
    while True:
        if pos >= end:
            raise _overrun(hops)
        length = data[pos]
        if not length:
            labels += data[start:pos]
            pos += 1
            break
        if length < 64:
            pos += 1 + length
            if pos > end:
                raise _overrun(hops)
            continue
        if length < 192:
            raise WireError(f"label type 0x{length & 0xC0:02x}")
        if pos + 2 > end:
            raise _overrun(hops)
        target = (length & 0x3F) << 8 | data[pos + 1]
        if target >= biggest:
            if target >= len(data):
                raise WireError("compression pointer past the end")
            raise WireError("compression pointer forward or in a loop")
        hops += 1
        if hops > _MAX_POINTERS:
            raise WireError(f"more than {_MAX_POINTERS} compression pointers in a name")
        labels += data[start:pos]
        after = after or pos + 2
        known = names.get(target)
        if known is not None and known[1] <= start and hops + known[2] <= _MAX_POINTERS:
            # read before, within these bounds: the same name again
            tail = known[0] or data[target : known[1]].lower()
            hops += known[2]
            break
        # What a pointer leads to must end before the part that led there.
        end = start
        start = biggest = pos = target
    name = labels.lower() + tail
    if len(name) > 255:
        raise WireError("name longer than 255 bytes")
    after = after or pos
    names.setdefault(origin, (name, after, hops))
    return name, after


def _overrun(hops: int) -> WireError:
    """A name read past its bound: the end of the packet or record, or, after
    a pointer, the part of the name that pointed there (dnspython 2.3 allows that)."""
    if hops:
        return WireError("compression pointer into the name pointing at it")
    return WireError("name runs past the end")


def _txt(rdata: bytes) -> bytes:
    """The character-strings of a TXT record, joined; at least one."""
    parts, pos = [], 0
    while pos < len(rdata):
        length = rdata[pos]
        if pos + 1 + length > len(rdata):
            raise WireError("TXT string runs past its record")
        parts.append(rdata[pos + 1 : pos + 1 + length])
        pos += 1 + length
    if not parts:
        raise WireError("TXT record without strings")
    return b"".join(parts)


def _class_text(rdclass: int) -> str:
    return _CLASSES.get(rdclass, f"CLASS{rdclass}")


def _select(
    qname: bytes, qtype: int, rcode: int, answer: Sequence[tuple[bytes, int, Any]]
) -> list[Any]:
    """The rdata of the asked type at the end of the CNAME chain from
    ``qname``, each once: answer holds (owner, type, rdata) with owners and
    CNAME targets in lower-cased wire form. WireError when inconsistent."""
    if not answer:
        return []
    for owner, rtype, _ in answer:
        if owner != qname or rtype != qtype:
            break
    else:  # the common case: only records of the asked type, for the question's name
        if rcode == 3:
            raise WireError(f"NXDOMAIN with {_type_text(qtype)} records")
        return list(dict.fromkeys(rdata for _, _, rdata in answer))
    cnames: dict[bytes, bytes] = {}
    owners = set()
    for owner, rtype, rdata in answer:
        if rtype == CNAME and qtype != CNAME:
            if cnames.setdefault(owner, rdata) != rdata:
                raise WireError("two CNAME records for one name")
        elif rtype == qtype:
            owners.add(owner)
    name, links = qname, 0
    while name in cnames:
        if name in owners:
            raise WireError(f"CNAME and {_type_text(qtype)} records for one name")
        name, links = cnames[name], links + 1
        if links == _MAX_CHAIN:
            raise WireError(f"CNAME chain of {_MAX_CHAIN} links or a CNAME loop")
    if owners - {name}:
        raise WireError(f"{_type_text(qtype)} record for another name")
    if owners and rcode == 3:
        raise WireError(f"NXDOMAIN with {_type_text(qtype)} records")
    return list(dict.fromkeys(r for owner, t, r in answer if t == qtype and owner == name))


def _parse_dnspython(data: bytes, qid: int, flags: int) -> Parsed:
    """dnspython's full parser, for what the fast path leaves (e.g. MX, AAAA),
    under the same rules.

    Any exception it raises means a malformed packet: older dnspython (2.3)
    raises ValueError and others, not only DNSException. dnspython 2.3 still
    accepts a TXT record without strings; current releases refuse it, as we do."""
    import dns.message

    try:
        # One rrset per record: dnspython keeps only the last of two CNAMEs for a name.
        msg = dns.message.from_wire(data, question_only=bool(flags & TC), one_rr_per_rrset=True)
        q = msg.question[0]
        qname = q.name.to_digestable()
        question_wire = qname + struct.pack("!HH", q.rdtype, q.rdclass)
        if flags & TC:
            return Parsed(qid, flags, flags & 0xF, question_wire, ())
        sections: Sequence[Any] = (msg.answer, msg.authority, msg.additional)
        if any(r.rdtype == TXT and not rd.strings for s in sections for r in s for rd in r):
            raise WireError("TXT record without strings")
        answer = []
        for rrset in msg.answer:
            if rrset.rdclass != q.rdclass:
                raise WireError(f"answer of class {_class_text(rrset.rdclass)}")
            owner = rrset.name.to_digestable()
            chain = rrset.rdtype == CNAME != q.rdtype  # a link, not the answer
            for rd in rrset:
                answer.append((owner, rrset.rdtype, rd.target.to_digestable() if chain else rd))
        rcode = int(msg.rcode())
        found = _select(qname, q.rdtype, rcode, answer)
        records = tuple(_text(rd) for rd in found)
    except WireError:
        raise
    except Exception as exc:
        raise WireError(" ".join(str(exc).split()).rstrip(".") or type(exc).__name__) from None
    return Parsed(qid, flags, rcode, question_wire, records)


def _text(rdata: Any) -> str:
    """A record as the client reports it."""
    if rdata.rdtype == TXT:
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rdata.rdtype == MX:
        return str(rdata.exchange.to_text())
    if rdata.rdtype in (A, AAAA):
        return str(rdata.address)
    return str(rdata.to_text())
