"""Fuzzing with hypothesis (issue 7): the pure functions and the whole plugin
on inputs nobody would think of.

- query names for any IPv4/IPv6 address: 4 or 32 labels, reversible, in the zone;
- answer classification for any rcode and set of A records: nothing outside
  127/8 and no operator error code is ever a listing;
- the command line on arbitrary argument lists: exit 0-3, output, no traceback,
  one line for a usage error;
- TXT text through ``clean_text`` and through the whole plugin (a fault server
  serves it): perfdata always parses, nothing Nagios would choke on;
- malformed replies on the wire never crash the client.

The CLI runs in-process (``cli.main``) so hypothesis can afford examples;
every socket it opens is checked by an audit hook: loopback only, or the test
fails. A fixed, small, derandomized profile (conftest.py) keeps CI fast and repeatable.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import logging
import os
import struct
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import dns.message
import dns.name
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from check_dnsbl import cli, options
from check_dnsbl.catalog import Catalog, Code, DnsblList, normalize_zone
from check_dnsbl.model import Failure, Reply, Status
from check_dnsbl.querynames import ip_query_name
from check_dnsbl.summary import clean_text, printable
from check_dnsbl.verdict import LOOPBACK, classify
from tests.faultservers import FakeZone, FaultResolver, output_problems

ADDR = "192.0.2.99"
CLOSED = "127.0.0.1:9"  # discard port: nothing listens, the kernel refuses at once


# --------------------------------------------------------------------------
# Guard: in-process runs may only ever talk to loopback


@dataclass
class _Guard:
    on: bool = False
    violations: list[str] = field(default_factory=list)


GUARD = _Guard()


def _loopback(host: object) -> bool:
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


#: Audit events of starting a process: the plugin never runs a command, so
#: nothing a DNS answer or an argument holds could ever become one.
PROCESS_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                  "os.fork", "os.forkpty", "pty.spawn"}  # fmt: skip


def _audit(event: str, args: tuple[object, ...]) -> None:
    """Refuse (and record) any process start, and any connect/send to, or
    name lookup of, a non-loopback host."""
    if GUARD.on and event in PROCESS_EVENTS:
        GUARD.violations.append(event)
        raise PermissionError(f"test guard: {event}")
    if not GUARD.on or not event.startswith("socket."):
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1]
        host = address[0] if isinstance(address, tuple) and address else None
    elif event in (
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.gethostbyname_ex",
    ):
        host = args[0]
    else:
        return
    if host is not None and not _loopback(host):
        GUARD.violations.append(f"{event} {host!r}")
        raise PermissionError(f"test guard: {event} to {host!r} is not loopback")


sys.addaudithook(_audit)


@dataclass(frozen=True)
class CliRun:
    """One in-process run of ``cli.main``: everything it printed or logged."""

    code: int
    out: str
    err: str
    logged: tuple[str, ...]
    warned: tuple[str, ...]

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


class _Collect(logging.Handler):
    """What a real run's logging would put on stderr (logging.lastResort)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("nagiosplugin"):  # nagiosplugin's own channel
            self.records.append(f"{record.name}: {record.getMessage()}")


@contextlib.contextmanager
def _isolated() -> Iterator[tuple[io.StringIO, io.StringIO, _Collect, list[str]]]:
    """stdout/stderr/logging/warnings captured, the -t budget starting now
    (it counts from the process's start otherwise: this one, long ago)."""
    saved_clock = options.process_start
    np_logger = logging.getLogger("nagiosplugin")
    saved_handlers = list(np_logger.handlers)
    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    out, err = io.StringIO(), io.StringIO()
    options.process_start = time.monotonic
    GUARD.on = True
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            warnings.simplefilter("always")
            warned: list[str] = []
            yield out, err, collect, warned
            warned += [str(w.message) for w in caught]
    finally:
        GUARD.on = False
        options.process_start = saved_clock
        root.removeHandler(collect)
        np_logger.handlers[:] = saved_handlers


def run_cli(argv: Sequence[str]) -> CliRun:
    """``check_dnsbl ARGV`` in this process."""
    code: object = None
    with _isolated() as (out, err, collect, warned):
        try:
            cli.main(list(argv))
        except SystemExit as exc:
            code = exc.code
    assert isinstance(code, int), f"exit code {code!r}"
    return CliRun(code, out.getvalue(), err.getvalue(), tuple(collect.records), tuple(warned))


def assert_clean_exit(run: CliRun) -> None:
    """Exit 0-3 with output on stdout only; nothing on stderr, logged or warned;
    no traffic beyond loopback; never a traceback or an internal error."""
    assert run.code in (0, 1, 2, 3), run
    assert run.out.strip(), run
    assert run.err == "", run.err
    assert not run.logged, run.logged
    assert not run.warned, run.warned
    assert not GUARD.violations, GUARD.violations
    assert "Traceback" not in run.out, run.out
    assert "internal error" not in run.out, run.out


# --------------------------------------------------------------------------
# Query names


def _valid_zone(zone: str) -> bool:
    try:
        return normalize_zone(zone) == zone
    except ValueError:
        return False


LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?", fullmatch=True)
ZONES = st.lists(LABEL, min_size=2, max_size=4).map(".".join).filter(_valid_zone)


@given(address=st.ip_addresses(), zone=ZONES)
@example(address=ipaddress.IPv6Address("::ffff:7f00:2"), zone="zen.spamhaus.org")
@example(address=ipaddress.IPv4Address("127.0.0.2"), zone="x" * 63 + "." + "y" * 63)
def test_query_name_is_reversible_and_in_the_zone(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, zone: str
) -> None:
    name = ip_query_name(address, zone)
    assert name.endswith("." + zone)
    labels = name[: -len(zone) - 1].split(".")
    if address.version == 4:
        assert len(labels) == 4
        assert all(label == str(int(label)) and int(label) <= 255 for label in labels)
        assert ipaddress.IPv4Address(".".join(reversed(labels))) == address
    else:  # 32 nibbles, even for IPv4-mapped addresses (never in-addr.arpa)
        assert len(labels) == 32
        assert all(len(label) == 1 and label in "0123456789abcdef" for label in labels)
        assert ipaddress.IPv6Address(int("".join(reversed(labels)), 16)) == address
    dns.name.from_text(name)  # a name DNS can carry: labels <= 63, <= 255 octets


# --------------------------------------------------------------------------
# Answer classification

CATALOG = Catalog.load()
KNOWN = [lst for lst in CATALOG.lists.values() if not lst.dead]
LOOPBACK_CODES = st.integers(0, 2**24 - 1).map(lambda n: ipaddress.IPv4Address((127 << 24) | n))
SPECIAL = st.sampled_from(
    ["127.0.0.1", "127.0.0.2", "127.0.1.255", "127.255.255.254", "127.255.255.255", "0.0.0.0"]
).map(ipaddress.IPv4Address)
A_RECORDS = st.one_of(st.ip_addresses(v=4), LOOPBACK_CODES, SPECIAL).map(str)
RCODES = st.sampled_from(
    ["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "FORMERR", "NOTIMP", "YXDOMAIN", "BADVERS"]
)
NETWORKS = st.builds(
    lambda code, prefix: ipaddress.IPv4Network((int(code), prefix), strict=False),
    LOOPBACK_CODES,
    st.integers(8, 32),
)
GENERATED = st.builds(
    lambda codes, errors: DnsblList(
        zone="generated.test",
        codes=tuple((net, Code("T", "test")) for net in codes),
        errors=tuple((net, "operator error") for net in errors),
    ),
    st.lists(NETWORKS, max_size=3),
    st.lists(NETWORKS, max_size=3),
)
LISTS = st.one_of(st.sampled_from(KNOWN), st.just(CATALOG.get("unknown.example")), GENERATED)


@given(dnsbl=LISTS, rcode=RCODES, records=st.lists(A_RECORDS, max_size=6))
@example(dnsbl=CATALOG.get("zen.spamhaus.org"), rcode="NOERROR", records=["127.255.255.254"])
@example(dnsbl=CATALOG.get("unknown.example"), rcode="NOERROR", records=["198.51.100.99"])
def test_classification_never_lists_outside_127_8_or_an_error_code(
    dnsbl: DnsblList, rcode: str, records: list[str]
) -> None:
    verdict = classify(dnsbl, Reply(rcode, tuple(records)))
    codes = [ipaddress.IPv4Address(r) for r in records]
    outside = [c for c in codes if c not in LOOPBACK]
    errors = [c for c in codes if dnsbl.error(c)]
    if verdict.status is Status.LISTED:
        assert rcode == "NOERROR" and codes
        assert not outside and not errors
    if rcode == "NXDOMAIN" or (rcode == "NOERROR" and not codes):
        assert verdict.status is Status.CLEAN
    elif rcode != "NOERROR" or outside or errors:
        assert verdict.status is Status.UNUSABLE, verdict
        assert verdict.reason  # in words, never blank
    if rcode == "NOERROR" and outside:
        assert "outside 127.0.0.0/8" in verdict.reason


@given(dnsbl=LISTS, reason=st.text(min_size=1, max_size=40))
def test_a_failure_is_always_unusable_with_its_reason(dnsbl: DnsblList, reason: str) -> None:
    verdict = classify(dnsbl, Failure(reason))
    assert (verdict.status, verdict.reason) == (Status.UNUSABLE, reason)


# --------------------------------------------------------------------------
# TXT text: clean_text, then the whole plugin


@given(text=st.text(), limit=st.integers(10, 1000))
@example(text="a|b\nc\x00d\x1b[31me\u202ef\ufffdg", limit=300)
@example(text="\u6f22" * 400, limit=300)
def test_printable_leaves_nothing_nagios_chokes_on(text: str, limit: int) -> None:
    cleaned = printable(text, (), limit)
    assert "|" not in cleaned and "\ufffd" not in cleaned
    assert not any(ch.isspace() and ch != " " for ch in cleaned)
    assert not output_problems(f"DNSBL OK - {cleaned}\n| x=1")
    assert len(cleaned.encode()) <= limit  # bytes, as Nagios counts
    assert cleaned == cleaned.strip() and "  " not in cleaned
    assert printable(cleaned, (), limit) == cleaned  # idempotent


KEY = "Abc123xyz789Key"


@given(before=st.text(max_size=400), after=st.text(max_size=40), limit=st.integers(10, 600))
@example(before="x" * 272, after=".zen.dq.spamhaus.net", limit=300)
@example(before="see ", after="", limit=300)
def test_printable_never_leaves_a_piece_of_a_key(before: str, after: str, limit: int) -> None:
    """Whatever the text around it and wherever the cut falls, no four
    characters of the key survive, even split by a control character."""
    for key in (KEY, KEY[:6] + "\x00" + KEY[6:], KEY[:4] + "|" + KEY[4:]):
        shown = printable(before + key + after, (KEY,), limit)
        assert not any(KEY[i : i + 4].lower() in shown.lower() for i in range(len(KEY) - 3)), shown


@given(data=st.binary(max_size=600))
def test_clean_text_of_any_bytes(data: bytes) -> None:
    cleaned = clean_text(data.decode("utf-8", "replace"))
    assert not output_problems(f"DNSBL OK - {cleaned}\n| x=1")


TXT_STRING = st.one_of(
    st.binary(max_size=255),
    st.text(max_size=60).map(lambda s: s.encode("utf-8", "surrogatepass")[:255]),
    st.sampled_from([b"|", b"\n", b"\r\n", b"\x00", b"\x1b[31m", b"\xff\xfe", b"| x=1;2;3"]),
)


@settings(max_examples=20)
@given(strings=st.lists(TXT_STRING, min_size=1, max_size=10))
@example(strings=[b"spam|source\n| listed=99;;;0", b"\x00\x07\xff\xfe"])
def test_any_txt_record_renders_parseable_output(strings: list[bytes]) -> None:
    """The whole plugin (dnsclient -> verdict -> Summary -> render)
    on a listing whose TXT record is arbitrary bytes, over UDP or TCP."""
    zone = FakeZone("txt.test", listed={ADDR: ("127.0.0.2",)}, txt={ADDR: tuple(strings)})
    with FaultResolver([zone]) as res:
        run = run_cli(["-n", res.address, "-H", ADDR, "-s", "txt.test", "-t", "3", "--no-state"])
    assert_clean_exit(run)
    assert run.code == 1, run.out
    assert not output_problems(run.out), (output_problems(run.out), run.out)
    assert len(run.lines) == 3, run.out  # first line, the listing, perfdata
    assert run.lines[1].startswith(f"{ADDR} listed on txt.test: 127.0.0.2")
    assert len(run.lines[1]) <= 1000
    assert "listed=1;" in run.lines[2]


# --------------------------------------------------------------------------
# Malformed replies on the wire


@settings(max_examples=20)
@given(
    packets=st.lists(st.tuples(st.booleans(), st.binary(max_size=200)), max_size=4),
    flips=st.lists(st.tuples(st.integers(0, 300), st.integers(1, 255)), max_size=6),
    cut=st.integers(0, 300),
)
def test_malformed_replies_never_crash_the_client(
    packets: list[tuple[bool, bytes]], flips: list[tuple[int, int]], cut: int
) -> None:
    """Random packets (some under the query's ID) and mangled copies of the
    honest reply arrive before it: whatever is made of them, the run ends
    cleanly and the healthy list's verdict is untouched."""

    def junk(query: dns.message.Message, honest: bytes) -> list[bytes]:
        out = [
            struct.pack("!H", query.id) + data[2:] if keep_id and len(data) >= 2 else data
            for keep_id, data in packets
        ]
        mangled = bytearray(honest)
        for position, xor in flips:
            mangled[position % len(mangled)] ^= xor
        return [*out, bytes(mangled), honest[: cut % (len(honest) + 1)]]

    good = FakeZone("good.test", listed={ADDR: ("127.0.0.2",)})
    bad = FakeZone("bad.test", fault="garbage+answer", junk=junk)
    with FaultResolver([good, bad]) as res:
        run = run_cli(
            [
                *("-n", res.address, "-H", ADDR, "-s", "good.test", "-s", "bad.test"),
                *("-t", "3", "--query-timeout", "1", "--no-state"),
            ]
        )
    assert_clean_exit(run)
    assert not output_problems(run.out), (output_problems(run.out), run.out)
    assert any(line.startswith(f"{ADDR} listed on good.test: ") for line in run.lines), run.out


# --------------------------------------------------------------------------
# The command line on arbitrary argument lists


def _options() -> list[tuple[str, bool]]:
    """(option, takes a value) for every option of the current parser, except
    those that send queries beyond loopback by design or write files."""
    found = []
    for action in options.build_parser()._actions:
        for option in action.option_strings:
            if "outbound" in option or "state-file" in option:
                continue
            found.append((option, action.nargs != 0))
    return found


OPTIONS = _options()
INTERESTING = [
    *["", "0", "1", "-1", "2", "15", "3600", "3601", "nan", "inf", "1e9", "0.001", "abc"],
    *["192.0.2.1", "2001:db8::1", "::ffff:127.0.0.2", "198.51.100.0/30", "10.0.0.0/8"],
    *["mail.example.test", "example.test", "zen.spamhaus.org", "dnsbl.sorbs.net", "a..b"],
    *[CLOSED, "[::1]:9", "127.0.0.1:0", "127.0.0.1:70000", "[::1", "::1"],
    *["/nonexistent/lists.toml", ".", "-", "--", "-h", "-V", "warning", "critical"],
    *["a|b", "x\ny", "tab\there", "\x1b[31m", "\udcff\udcfe", "é", "=", "-H", "--list="],
]
#: What argv can hold: any text but NUL; lone surrogates only as surrogateescape'd bytes.
ARG_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=1),  # no NUL; no surrogates by default
        st.sampled_from([chr(c) for c in range(0xDC80, 0xDD00)]),
    ),
    max_size=24,
)
VALUE = st.one_of(st.sampled_from(INTERESTING), ARG_TEXT)


def _token(option: tuple[str, bool]) -> st.SearchStrategy[list[str]]:
    name, takes_value = option
    if not takes_value:
        return st.just([name])
    glued = f"{name}=" if name.startswith("--") else name
    return st.one_of(
        st.tuples(st.just(name), VALUE).map(list),
        VALUE.map(lambda v: [glued + v]),
        st.just([name]),  # its value missing
    )


TOKENS = st.one_of(st.sampled_from(OPTIONS).flatmap(_token), VALUE.map(lambda v: [v]))
BASES = st.sampled_from([[], ["-H", "192.0.2.1"], ["-H", "192.0.2.1", "-s", "a.test"]])
ARGV = st.tuples(BASES, st.lists(TOKENS, max_size=6)).map(
    lambda t: [*t[0], *(arg for token in t[1] for arg in token)]
)


def _harmless(argv: list[str]) -> bool:
    """No special files, no file writes, no resolver beyond loopback."""
    if any(
        bad in arg for arg in argv for bad in ("/dev", "/proc", "/sys", "outbound", "state-file")
    ):
        return False
    try:
        args, _ = options.build_parser().parse_known_args(argv)
    except BaseException:  # a usage error: nothing is ever sent
        return True
    for text in getattr(args, "nameservers", []):
        host = text.strip()
        host = host[1:].partition("]")[0] if host.startswith("[") else host
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        try:
            if not ipaddress.ip_address(host).is_loopback:
                return False
        except ValueError:
            continue
    return True


@settings(max_examples=60)
@given(argv=ARGV.filter(_harmless))
@example(argv=["-H", "192.0.2.1", "-s", "a.test", "--retries", "1000000000"])
@example(argv=["-h"])
def test_command_line_always_exits_0_to_3_with_output(argv: list[str]) -> None:
    GUARD.violations.clear()
    # A closed loopback resolver, a short budget and no history: whatever the
    # arguments, nothing leaves this host and nothing is written.
    run = run_cli([*argv, "-n", CLOSED, "-t", "1", "--no-state"])
    assert_clean_exit(run)
    first = run.lines[0]
    if run.out.endswith(" (see --help)\n"):  # a usage error: exactly one clean line
        assert run.code == 3
        assert first.startswith("DNSBL UNKNOWN - ")
        assert run.out.count("\n") == 1, run.out
        assert not output_problems(run.out), (output_problems(run.out), run.out)
    elif first.startswith("DNSBL "):  # a run (against a dead resolver)
        assert not output_problems(run.out), (output_problems(run.out), run.out)
    else:  # -h, -V, --show-lists
        assert run.code == 3
        assert first.startswith(("usage:", "check_dnsbl ", "ZONE")), run.out


@pytest.mark.parametrize(
    "argv",
    [
        ["-H", "192.0.2.1", "x\ny"],  # argparse echoes an unknown argument verbatim
        ["-H", "192.0.2.1", "\r"],
        ["-H", "192.0.2.1", "\x1e"],  # a line break to str.splitlines(), and to some cores
        ["-H", "a|b"],  # quoted with repr(), which keeps '|'
        ["-H--"],  # argparse hands the option a list, not a string
        ["-d--"],
    ],
    ids=["newline", "carriage return", "record separator", "pipe", "-H--", "-d--"],
)
def test_usage_error_is_one_clean_line(argv: list[str]) -> None:
    """Found by the fuzzer; kept as plain cases so they fail every run until fixed."""
    run = run_cli([*argv, "-n", CLOSED, "-t", "1", "--no-state"])
    assert_clean_exit(run)
    assert run.code == 3
    assert run.out.count("\n") == 1 and run.out.endswith(" (see --help)\n"), run.out
    assert run.out.startswith("DNSBL UNKNOWN - ")
    assert not output_problems(run.out), (output_problems(run.out), run.out)


def test_the_guard_blocks_traffic_beyond_loopback() -> None:
    """The guard itself works: a non-loopback connect is refused and recorded."""
    import socket

    GUARD.violations.clear()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        GUARD.on = True
        try:
            with pytest.raises(PermissionError):
                sock.connect(("192.0.2.1", 53))  # TEST-NET-1: would never be answered anyway
        finally:
            GUARD.on = False
    assert GUARD.violations == ["socket.connect '192.0.2.1'"]
    GUARD.violations.clear()


def test_the_guard_blocks_starting_a_process() -> None:
    """The guard every in-process run is under refuses a process start: so the
    runs above prove the plugin starts none, whatever it is given."""
    GUARD.violations.clear()
    GUARD.on = True
    try:
        with pytest.raises(PermissionError):
            os.system("true")
    finally:
        GUARD.on = False
    assert GUARD.violations == ["os.system"]
    GUARD.violations.clear()
