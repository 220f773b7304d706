"""The wire codec against dnspython's own parser: only well-formed, consistent
replies are read, and they are read as dnspython reads them.

``reference`` is dnspython's reading of a packet plus the rules the plugin
adds (``check_dnsbl/wire.py``), written here with dnspython's own tools
(``from_wire``, ``resolve_chaining``, rrsets). ``wire.parse``, the fast path
with dnspython behind it as the client uses it, must accept or reject every
packet alike and, when it accepts, agree on the ID, flags, rcode, question
and the records of the asked type. So must the fast path alone, whenever it
takes a packet on, against the dnspython path. Packets: random bytes, a
plausible header before random bytes, and real replies (dnspython renders
them, compressed) mutated byte by byte; the shapes of the fault matrix
(``faultservers.MALFORMED``) are explicit examples.

Where dnspython releases disagree, the plugin follows the current one
(2.9 here), and the reference does too:

- a TXT record without strings: 2.3 (Debian 12) accepts it; current
  dnspython refuses it, and so does the plugin, on both (the dnspython path
  checks for it). The reference refuses it on 2.3 as well.
- a compression pointer to a name that runs into the name pointing at it:
  2.3 accepts it, current dnspython refuses it (``Parser.restrict_end``).
  The fast path refuses it on both; on 2.3 only, the dnspython path (for the
  rare replies the fast path leaves) accepts it. The test allows exactly that
  difference, on 2.3 only, by the reason the plugin gives. The name read is
  still bounded and must still match the question or the CNAME chain.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.NS
import dns.rdtypes.ANY.SOA
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.wire
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from check_dnsbl import wire
from tests.faultservers import MALFORMED, TCP_MALFORMED, raw_reply, rr

A, NS, CNAME, SOA, MX, TXT, AAAA, OPT = 1, 2, 5, 6, 15, 16, 28, 41
IN, CH = 1, 3
#: Current dnspython refuses a pointer into the name pointing at it; 2.3 does not.
STRICT_POINTERS = hasattr(dns.wire.Parser, "restrict_end")
OVERLAP = "compression pointer into the name pointing at it"

Outcome = tuple[object, ...]  # ("accept", qid, flags, rcode, question, records) or ("reject",)
REJECT: Outcome = ("reject",)


def query(name: str = "99.2.0.192.bad.test", rdtype: int = A) -> dns.message.Message:
    return dns.message.make_query(name, rdtype, use_edns=0, payload=1232, id=0x1234)


# --------------------------------------------------------------------------
# The reference: dnspython's reading, with the plugin's rules on top


def _text(rd: dns.rdata.Rdata) -> str:
    """A record as the client reports it: address, TXT text, MX exchange."""
    if rd.rdtype == TXT:
        return b"".join(rd.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]
    if rd.rdtype == MX:
        return str(rd.exchange)  # type: ignore[attr-defined]
    return str(rd.to_text())


def reference(data: bytes) -> Outcome:
    """What dnspython reads in ``data``, under the plugin's rules."""
    truncated = len(data) >= 12 and bool(data[2] & 0x02)
    try:
        msg = dns.message.from_wire(data, question_only=truncated)
        if not msg.flags & dns.flags.QR or msg.opcode() != dns.opcode.QUERY:
            return REJECT
    except Exception:  # dnspython 2.3 raises ValueError and others too
        return REJECT
    if len(msg.question) != 1:
        return REJECT
    q = msg.question[0]
    question = q.name.to_digestable() + struct.pack("!HH", q.rdtype, q.rdclass)
    if truncated:  # read only to the question: it says "ask over TCP"
        return ("accept", msg.id, int(msg.flags), int(msg.flags) & 0xF, question, ())
    every = [
        rd for section in (msg.answer, msg.authority, msg.additional) for r in section for rd in r
    ]
    if any(rd.rdtype == TXT and not rd.strings for rd in every):  # type: ignore[attr-defined]
        return REJECT  # dnspython 2.3 accepts it, current dnspython does not
    try:
        chain = msg.resolve_chaining()
    except (dns.message.ChainTooLong, dns.message.AnswerForNXDOMAIN):
        return REJECT
    end = chain.canonical_name
    for rrset in msg.answer:
        if rrset.rdclass != q.rdclass:
            return REJECT  # an answer of another class than the question's
        if rrset.rdtype == q.rdtype and rrset.name != end:
            return REJECT  # the asked type, but not at the end of the chain
        if rrset.rdtype == CNAME != q.rdtype and rrset.name == end and chain.answer:
            return REJECT  # a CNAME beside the answer
    # dnspython keeps the last of two CNAMEs for a name; the plugin refuses them
    targets: dict[dns.name.Name, set[dns.name.Name]] = {}
    for rrset in dns.message.from_wire(data, one_rr_per_rrset=True).answer:
        if rrset.rdtype == CNAME != q.rdtype:
            targets.setdefault(rrset.name, set()).update(rd.target for rd in rrset)
    if any(len(names) > 1 for names in targets.values()):
        return REJECT
    records = tuple(_text(rd) for rd in chain.answer or ())
    return ("accept", msg.id, int(msg.flags), int(msg.rcode()), question, records)


def outcome(parse: Callable[[], wire.Parsed | None]) -> tuple[Outcome, str] | None:
    """``parse``'s outcome as the reference puts it, and its reason if it
    rejects; None if the fast path leaves the packet to dnspython."""
    try:
        parsed = parse()
    except wire.WireError as exc:
        return REJECT, str(exc)
    return None if parsed is None else (("accept", *parsed), "")


def assert_agree(ours: tuple[Outcome, str] | None, theirs: Outcome, data: bytes) -> None:
    assert ours is not None
    if not STRICT_POINTERS and ours == (REJECT, OVERLAP) and theirs != REJECT:
        return  # dnspython 2.3 reads such a name (module docstring)
    assert ours[0] == theirs, f"{data.hex()}: {ours[1] or ours[0]} / dnspython: {theirs}"


def check(data: bytes) -> None:
    """wire.parse agrees with the reference; so does the fast path with the
    dnspython path wherever the fast path takes the packet on."""
    assert_agree(outcome(lambda: wire.parse(data)), reference(data), data)
    if len(data) < 12:
        return
    header = wire._HEADER.unpack_from(data)
    if not header[1] & wire.QR or header[1] & 0x7800 or header[2] != 1:
        return  # parse() refuses these before either path
    fast = outcome(lambda: wire._parse_fast(data, header))
    if fast is not None:
        slow = outcome(lambda: wire._parse_dnspython(data, header[0], header[1]))
        assert slow is not None
        assert_agree(fast, slow[0], data)


# --------------------------------------------------------------------------
# Packets


LABEL = st.text(alphabet="abcXYZ09-_", min_size=1, max_size=8)
NAME = st.lists(LABEL, min_size=1, max_size=4).map(
    lambda ls: dns.name.from_text(".".join(ls) + ".")
)
ADDRESS4 = st.sampled_from(["127.0.0.2", "127.0.0.3", "10.1.2.3"])
STRINGS = st.lists(st.binary(max_size=12), min_size=1, max_size=3)


def _rdata(
    draw: st.DrawFn, rdtype: int, rdclass: int, names: list[dns.name.Name]
) -> dns.rdata.Rdata:
    target = draw(st.sampled_from(names))
    if rdtype == A:
        return dns.rdtypes.IN.A.A(rdclass, A, draw(ADDRESS4))
    if rdtype == AAAA:
        return dns.rdtypes.IN.AAAA.AAAA(
            rdclass, AAAA, draw(st.sampled_from(["::1", "2001:db8::7"]))
        )
    if rdtype == TXT:
        return dns.rdtypes.ANY.TXT.TXT(rdclass, TXT, draw(STRINGS))
    if rdtype == CNAME:
        return dns.rdtypes.ANY.CNAME.CNAME(rdclass, CNAME, target)
    if rdtype == NS:
        return dns.rdtypes.ANY.NS.NS(rdclass, NS, target)
    if rdtype == MX:
        return dns.rdtypes.ANY.MX.MX(rdclass, MX, draw(st.integers(0, 20)), target)
    return dns.rdtypes.ANY.SOA.SOA(rdclass, SOA, target, target, 1, 2, 3, 4, 5)


@st.composite
def replies(draw: st.DrawFn) -> bytes:
    """A reply as a server renders it (compressed), with records of every
    sort, for the question's name, its parent, a chain target or elsewhere."""
    qname = draw(NAME)
    qtype = draw(st.sampled_from([A, A, TXT, AAAA, MX]))
    edns = draw(st.booleans())
    reply = dns.message.make_response(
        dns.message.make_query(qname, qtype, use_edns=0 if edns else None, id=0x1234)
    )
    names = [qname, qname.parent() if len(qname) > 2 else qname, draw(NAME), draw(NAME)]
    if draw(st.booleans()):
        names.append(dns.name.from_text(qname.to_text().upper()))
    for section in (reply.answer, reply.authority, reply.additional):
        for _ in range(draw(st.integers(0, 3))):
            rdtype = draw(st.sampled_from([qtype, qtype, CNAME, A, TXT, AAAA, NS, SOA, MX]))
            rdclass = draw(st.sampled_from([IN, IN, IN, CH])) if rdtype == TXT else IN
            rrset = reply.find_rrset(
                section, draw(st.sampled_from(names)), rdclass, rdtype, create=True
            )
            rrset.add(_rdata(draw, rdtype, rdclass, names), draw(st.sampled_from([0, 60])))
    if edns:
        options = draw(st.sampled_from([[], [dns.edns.GenericOption(65001, b"xy")]]))
        reply.use_edns(0, ednsflags=draw(st.sampled_from([0, 0, 1 << 24])), options=options)
    reply.set_rcode(draw(st.sampled_from([0, 0, 3, 3, 2, 5])))
    return reply.to_wire(max_size=65535, want_shuffle=False)  # deterministic


MUTATION = st.one_of(
    st.tuples(st.just("xor"), st.integers(0, 4095), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 4095), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 4095), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 4095), st.integers(1, 4)),
    st.tuples(st.just("count"), st.integers(2, 5), st.integers(0, 3)),
    st.tuples(st.just("pointer"), st.integers(0, 4095), st.integers(0, 255)),
)


def mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    """Byte flips, cuts, insertions, deletions, header counts set, pointers written."""
    out = bytearray(data)
    for what, where, value in mutations:
        at = where % (len(out) + 1)
        if what == "xor" and at < len(out):
            out[at] ^= value
        elif what == "cut":
            del out[at:]
        elif what == "insert":
            out[at:at] = bytes([value])
        elif what == "delete":
            del out[at : at + value]
        elif what == "count" and len(out) >= 12:
            out[2 * where : 2 * where + 2] = struct.pack("!H", value)
        elif what == "pointer":
            out[at : at + 2] = bytes([0xC0, value])
    return bytes(out)


def _shape_examples(test: Callable[..., None]) -> Callable[..., None]:
    """The fault matrix's shapes, and the cases this module's docstring names."""
    for build, _ in [*MALFORMED.values(), *TCP_MALFORMED.values()]:
        test = example(packet=build(query()))(test)
    for packet in SPECIAL.values():
        test = example(packet=packet)(test)
    return test


def _chain(links: int) -> bytes:
    """An answer through ``links`` CNAMEs, then 127.0.0.2."""
    names = [dns.name.from_text(f"n{i}.chain.invalid.").to_wire() for i in range(links)]
    records = [rr(CNAME, names[0])] if names else []
    records += [rr(CNAME, b, owner=a) for a, b in itertools.pairwise(names)]
    records.append(rr(A, bytes([127, 0, 0, 2]), owner=names[-1] if names else b"\xc0\x0c"))
    return raw_reply(query(), records)


_Q_END = 12 + len("99.2.0.192.bad.test") + 2 + 4  # the first byte after the question
SPECIAL = {
    "chain of 15 CNAMEs": _chain(15),
    "chain of 16 CNAMEs": _chain(16),
    "owner in capitals": raw_reply(
        query(),
        [rr(A, bytes([127, 0, 0, 2]), owner=b"\x0299\x012\x010\x03192\x03BAD\x04TEST\x00")],
    ),
    "one A record twice": raw_reply(query(), [rr(A, bytes([127, 0, 0, 2]))] * 2),
    "TXT split two ways": raw_reply(
        query(rdtype=TXT), [rr(TXT, b"\x02ab"), rr(TXT, b"\x01a\x01b")]
    ),
    "TXT without strings": raw_reply(query(rdtype=TXT), [rr(TXT, b"")]),
    "TXT without strings, in the additional section": raw_reply(
        query(), additional=[rr(TXT, b"")], rcode=3
    ),
    "extended rcode on NXDOMAIN": raw_reply(
        query(), additional=[rr(OPT, b"", owner=b"\x00", rclass=1232, ttl=1 << 24)], rcode=3
    ),
    "EDNS option": raw_reply(
        query(), additional=[rr(OPT, b"\xfd\xe9\x00\x01x", owner=b"\x00", rclass=1232)], rcode=3
    ),
    # the question's name is a pointer to the header's byte 4: 0, the root
    "compressed question": bytes.fromhex("123481800001000000000000c00400010001"),
    # The second owner points one byte back, at the first record's last byte
    # (2): a label of 2 bytes, the pointer's own, then the 0 of the type field.
    "pointer into the name pointing at it": raw_reply(
        query(),
        [
            rr(A, bytes([127, 0, 0, 2])),
            rr(A, bytes([127, 0, 0, 3]), owner=bytes([0xC0, _Q_END + 2 + 10 + 4 - 1])),
        ],
    ),
    # A name read before holds a pointer to itself inside a label; a later
    # pointer into that label leads to it, and reading it runs into the label.
    "pointer into a label of a name read before": raw_reply(
        query(),
        [rr(A, bytes([127, 0, 0, 2]))],
        [
            rr(NS, b"\x00", owner=bytes([3, 0xC0, _Q_END + 16]) + b"y\x00"),
            rr(NS, b"\x00", owner=bytes([0xC0, _Q_END + 16 + 1])),
        ],
    ),
    "a CNAME question": raw_reply(query(rdtype=CNAME), [rr(CNAME, b"\x01x\xc0\x0c")]),
    "signed (TSIG)": raw_reply(
        query(), additional=[rr(250, b"\x00" * 20, owner=b"\x00", rclass=255)]
    ),
}


@settings(max_examples=300)
@given(packet=st.binary(max_size=300))
@_shape_examples
def test_parse_agrees_with_dnspython_on_any_bytes(packet: bytes) -> None:
    check(packet)


@settings(max_examples=300)
@given(
    head=st.tuples(
        st.sampled_from([0x8180, 0x8380, 0x8183, 0x0180]), st.integers(0, 3), st.integers(0, 3)
    ),
    tail=st.binary(max_size=120),
)
def test_parse_agrees_with_dnspython_after_a_plausible_header(
    head: tuple[int, int, int], tail: bytes
) -> None:
    flags, answers, additional = head
    question = raw_reply(query())[12:]
    check(struct.pack("!6H", 0x1234, flags, 1, answers, 0, additional) + question + tail)


@settings(max_examples=400)
@given(reply=replies(), mutations=st.lists(MUTATION, max_size=3))
def test_parse_agrees_with_dnspython_on_mutated_replies(
    reply: bytes, mutations: list[tuple[str, int, int]]
) -> None:
    check(mutate(reply, mutations))


# --------------------------------------------------------------------------
# The shapes, one by one: the exact reason, and the common replies stay on the fast path


@pytest.mark.parametrize("shape", MALFORMED, ids=MALFORMED)
def test_malformed_shape_is_refused_with_its_reason(shape: str) -> None:
    build, what = MALFORMED[shape]
    with pytest.raises(wire.WireError) as caught:
        wire.parse(build(query()))
    assert str(caught.value) == what
    assert reference(build(query())) == REJECT


@pytest.mark.parametrize(
    ("special", "records"),
    [
        ("chain of 15 CNAMEs", ("127.0.0.2",)),
        ("owner in capitals", ("127.0.0.2",)),
        ("one A record twice", ("127.0.0.2",)),
        ("TXT split two ways", ("ab", "ab")),  # two records: dnspython keeps both
        ("a CNAME question", ("x.99.2.0.192.bad.test.",)),
    ],
)
def test_consistent_replies_are_read(special: str, records: tuple[str, ...]) -> None:
    assert wire.parse(SPECIAL[special]).records == records


@pytest.mark.parametrize(
    ("special", "reason"),
    [
        ("chain of 16 CNAMEs", "CNAME chain of 16 links or a CNAME loop"),
        ("TXT without strings", "TXT record without strings"),
        ("TXT without strings, in the additional section", "TXT record without strings"),
        ("pointer into the name pointing at it", OVERLAP),
        ("pointer into a label of a name read before", OVERLAP),
    ],
)
def test_inconsistent_replies_are_refused(special: str, reason: str) -> None:
    with pytest.raises(wire.WireError, match=f"^{reason}$"):
        wire.parse(SPECIAL[special])


def test_extended_rcode_is_read_from_the_opt_record() -> None:
    """NXDOMAIN in the header, 1 in the OPT record's upper rcode bits: rcode 19,
    which is no NXDOMAIN (the fast path used to say "not listed")."""
    parsed = wire.parse(SPECIAL["extended rcode on NXDOMAIN"])
    assert (parsed.rcode, parsed.rcode_text) == (19, "RCODE19")


def test_truncated_reply_is_read_to_its_question_only() -> None:
    build = TCP_MALFORMED["TC set again, an A record inside"][0]
    parsed = wire.parse(build(query()))
    assert parsed.flags & wire.TC and parsed.records == ()


def test_common_replies_take_the_fast_path() -> None:
    """NXDOMAIN with its SOA, A and TXT answers, a CNAME on the way: never
    dnspython's parser, 100 times the CPU."""
    import dns.rrset

    q = query()
    nx = dns.message.make_response(q)
    nx.set_rcode(3)
    nx.authority.append(
        dns.rrset.from_text("bad.test.", 60, "IN", "SOA", "ns.bad.test. root.bad.test. 1 2 3 4 5")
    )
    listed = dns.message.make_response(q)
    listed.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "CNAME", "x.bad.test."))
    listed.answer.append(
        dns.rrset.from_text("x.bad.test.", 60, "IN", "A", "127.0.0.2", "127.0.0.4")
    )
    txt_q = query(rdtype=TXT)
    txt = dns.message.make_response(txt_q)
    txt.answer.append(
        dns.rrset.from_text(txt_q.question[0].name, 60, "IN", "TXT", '"spam" "here"')
    )
    for reply, records in [(nx, ()), (listed, ("127.0.0.2", "127.0.0.4")), (txt, ("spamhere",))]:
        data = reply.to_wire()
        fast = wire._parse_fast(data, wire._HEADER.unpack_from(data))
        assert fast is not None and sorted(fast.records) == sorted(records)
