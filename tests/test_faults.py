"""The fault matrix of issue 7: the plugin under every way DNS goes wrong.

Each fault is played by a purpose-built server (``faultservers``) acting as
the resolver, or by the real rbldnsd + unbound world (``dnsworld``) where real
software produces the fault. For every fault the run must give the right
state, say why in words, keep the other lists' verdicts, finish inside ``-t``,
and never print a traceback or anything on stderr (``check_dnsbl`` asserts
those two) or leave a process behind. The safety rules that apply to the
current code (no shell, bounded output) are tested here too.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.message
import dns.rdatatype
import pytest

from tests.conftest import ROOT, Run, check_dnsbl
from tests.dnsworld import DnsWorld, Zone, require_tool
from tests.faultservers import (
    MALFORMED,
    MAX_OUTPUT,
    TCP_MALFORMED,
    FakeZone,
    FaultResolver,
    closed_port,
    output_problems,
    raw_reply,
    rr,
    txt_strings,
)

ADDR = "192.0.2.99"  # listed on good.test, not on other.test
T = 4.0  # -t of most runs: every run must end before it
QT = 0.3  # --query-timeout: faults that time out cost 2 tries of this
GOOD = FakeZone("good.test", listed={ADDR: ("127.0.0.2",)}, txt={ADDR: (b"listed for spam",)})
OTHER = FakeZone("other.test")
MAX_FIRST_LINE = 1000  # bytes: the first line is for pagers
BARRACUDA = ("-s", "b.barracudacentral.org")


# --------------------------------------------------------------------------
# Helpers


def assert_sane(run: Run) -> None:
    """Output Nagios can read: perfdata last and parsing, no stray ``|``, no controls."""
    assert run.lines[-1].startswith("| "), run.stdout
    problems = output_problems(run.stdout)
    assert not problems, f"{problems}\n{run.stdout}"


def plugin(resolver: str | tuple[str, ...], *args: str, t: float = T, qt: float = QT) -> Run:
    """One run at -v (every verdict shown) against ``resolver``; it must end inside
    ``-t``. No listing history (--no-state): each fault run stands alone."""
    resolvers = (resolver,) if isinstance(resolver, str) else resolver
    ns = [arg for r in resolvers for arg in ("-n", r)]
    started = time.monotonic()
    run = check_dnsbl(*ns, "-t", str(t), "--query-timeout", str(qt), "--no-state", "-v", *args)
    elapsed = time.monotonic() - started
    assert elapsed < t, f"{elapsed:.2f}s >= -t {t}\n{run.stdout}"
    assert_sane(run)
    return run


def unusable_reason(run: Run, zone: str, address: str = ADDR) -> str:
    """The reason the long output gives for ``zone`` being unusable for ``address``
    (``ZONE[, ZONE...] unusable for WHO: REASON``: lists failing alike share a line)."""
    found = []
    for line in run.long_output:
        m = re.fullmatch(r"(.+?) unusable for (.+?): (.*)", line)
        if m and zone in m[1].split(", ") and address in m[2]:
            found.append(m[3])
    assert len(found) == 1, run.stdout
    return found[0]


def headline(reason: str) -> str:
    return reason.split(" (", maxsplit=1)[0]


def assert_others_intact(run: Run) -> None:
    """good.test still lists ADDR (with its TXT), other.test still does not."""
    assert any(
        line.startswith(f"{ADDR} listed on good.test: 127.0.0.2")
        and 'reason: "listed for spam"' in line
        for line in run.long_output
    ), run.stdout
    assert f"other.test: {ADDR} not listed" in run.long_output, run.stdout


def _children() -> dict[int, str]:
    """Live child processes of this test process: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found[int(entry.name)] = cmdline
    return found


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    """No plugin process and no fault-server thread outlives its test."""
    yield
    plugins = {pid: cmd for pid, cmd in _children().items() if "-m check_dnsbl" in cmd}
    assert not plugins, plugins
    servers = [t.name for t in threading.enumerate() if t.name.startswith("faultserver-")]
    assert not servers, servers


# --------------------------------------------------------------------------
# Resolver faults


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_resolver_down_is_unknown_and_names_it(host: str) -> None:
    port = closed_port(host)
    resolver = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    r = plugin(resolver, "-H", ADDR, "-s", "good.test", "-s", "other.test")
    assert r.returncode == 3
    assert r.first_line == (
        f"DNSBL UNKNOWN - no usable answer from any list for {ADDR}: "
        f"resolver {resolver} unreachable"
    )
    assert r.value("errors") == "2"


def test_resolver_down_with_many_retries_still_says_unreachable() -> None:
    """Retrying a refused resolver cannot help: the reason must stay the truth,
    and the run need not spin through its whole budget to find out."""
    resolver = f"127.0.0.1:{closed_port()}"
    r = plugin(resolver, "-H", ADDR, *zones(GOOD, OTHER), "--retries", "10", t=3)
    assert r.returncode == 3
    for zone in ("good.test", "other.test"):
        assert unusable_reason(r, zone).startswith(f"resolver {resolver} unreachable")
    assert float(r.value("time").removesuffix("s")) < 1.0


def test_one_of_two_resolvers_down_costs_nothing() -> None:
    """Retries rotate through the resolvers: the live one answers every query."""
    with FaultResolver([GOOD, OTHER]) as live:
        r = plugin((f"127.0.0.1:{closed_port()}", live.address), "-H", ADDR, *zones(GOOD, OTHER))
    assert (r.returncode, r.first_line) == (
        1,
        f"DNSBL WARNING - {ADDR} listed on 1 of 2 lists: good.test (127.0.0.2)",
    )
    assert_others_intact(r)


def test_resolver_black_hole_times_out_with_the_reason() -> None:
    """A resolver whose port is open but that never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))
        resolver = f"127.0.0.1:{hole.getsockname()[1]}"
        r = plugin(resolver, "-H", ADDR, *zones(GOOD, OTHER))
    assert r.returncode == 3
    assert r.first_line == (
        f"DNSBL UNKNOWN - no usable answer from any list for {ADDR}: "
        f"timeout: no answer from resolver {resolver} after 2 tries"
    )


def test_slow_resolver_within_the_query_timeout() -> None:
    with FaultResolver([GOOD, OTHER], delay=QT / 3) as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER))
    assert (r.returncode, r.first_line) == (
        1,
        f"DNSBL WARNING - {ADDR} listed on 1 of 2 lists: good.test (127.0.0.2)",
    )
    assert_others_intact(r)


def test_slow_resolver_late_answers_still_count() -> None:
    """Every answer arrives 1.5 query-timeouts late but long before -t: a retry
    must not throw away the answer to the try before it."""
    with FaultResolver([GOOD, OTHER], delay=QT * 1.5) as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER))
    assert (r.returncode, r.first_line) == (
        1,
        f"DNSBL WARNING - {ADDR} listed on 1 of 2 lists: good.test (127.0.0.2)",
    ), r.stdout
    assert_others_intact(r)


def test_resolver_slower_than_the_run_budget() -> None:
    with FaultResolver([GOOD, OTHER], delay=30) as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER), t=3, qt=10)
    assert r.returncode == 3
    assert r.first_line == (
        f"DNSBL UNKNOWN - no usable answer from any list for {ADDR}: "
        "timeout: no answer before the run's deadline"
    )


@pytest.mark.parametrize("rcode", ["SERVFAIL", "REFUSED"])
def test_resolver_failing_every_query_is_unknown_and_names_it(rcode: str) -> None:
    with FaultResolver([GOOD, OTHER], rcode=rcode) as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER))
    assert r.returncode == 3
    assert r.first_line.startswith(f"DNSBL UNKNOWN - no usable answer from any list for {ADDR}: ")
    assert rcode in r.first_line
    assert res.address in r.first_line, "the UNKNOWN line must name the resolver (issue 2)"


def test_nxdomain_rewriting_resolver_keeps_real_listings() -> None:
    with FaultResolver([GOOD, OTHER], rewrite_nxdomain="198.51.100.99") as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER))
    assert r.returncode == 1
    assert r.first_line.startswith(
        f"DNSBL WARNING - {ADDR} listed on 1 of 2 lists: good.test (127.0.0.2); "
        "1 unusable: other.test (answer 198.51.100.99 is outside 127.0.0.0/8"
    )
    assert "rewriting NXDOMAIN" in unusable_reason(r, "other.test")
    assert r.value("listed") == "1"


def test_nxdomain_rewriting_resolver_never_calls_a_clean_address_listed() -> None:
    with FaultResolver([GOOD, OTHER], rewrite_nxdomain="198.51.100.99") as res:
        r = plugin(res.address, "-H", "192.0.2.1", *zones(GOOD, OTHER))
    assert r.returncode == 3
    assert r.first_line.startswith(
        "DNSBL UNKNOWN - no usable answer from any list for 192.0.2.1: "
        "answer 198.51.100.99 is outside 127.0.0.0/8"
    )
    assert "rewriting NXDOMAIN" in r.first_line
    assert r.value("listed") == "0"


# --------------------------------------------------------------------------
# List faults: one list misbehaves, good.test and other.test must not notice


def zones(*fake: FakeZone) -> tuple[str, ...]:
    return tuple(arg for z in fake for arg in ("-s", z.name))


@dataclass(frozen=True)
class ListFault:
    """One misbehaving list and what its verdict must be.

    ``verdict``: "listed" (127.0.0.3 from the right packet), "clean", or
    "unusable" with ``reason`` (a regex; ``{res}`` is the resolver).
    """

    zone: FakeZone
    verdict: str
    reason: str = ""
    tcp: str = "serve"


BAD = "bad.test"
HIT = {ADDR: ("127.0.0.3",)}
TIMEOUT = r"timeout: no answer from resolver {res} after 2 tries"
IGNORED = TIMEOUT + r" \(\d+ malformed or mismatched replies ignored\)"
#: A query that got only bad replies under its ID says what was wrong with the first.
BAD_REPLIES = r" \(\d+ malformed or mismatched replies to 2 tries\)"
SERVFAIL = r"resolver (?:{res} )?answered SERVFAIL.*"  # naming the resolver is welcome
REFUSED = r"resolver (?:{res} )?answered REFUSED.*"
OUTSIDE = (
    r"answer {a} is outside 127\.0\.0\.0/8: parked or hijacked zone, "
    r"or a resolver rewriting NXDOMAIN"
)

LIST_FAULTS = {
    "drops every query": ListFault(FakeZone(BAD, fault="drop"), "unusable", TIMEOUT),
    "slow list, inside the query timeout": ListFault(
        FakeZone(BAD, listed=HIT, delay=QT / 3), "listed"
    ),
    "TC bit, TCP answers": ListFault(FakeZone(BAD, fault="tc", listed=HIT), "listed"),
    "TC bit, TCP port closed": ListFault(
        FakeZone(BAD, fault="tc"),
        "unusable",
        r"truncated reply and no TCP answer from resolver {res} after 2 tries",
        tcp="closed",
    ),
    "TC bit, TCP hangs up": ListFault(
        FakeZone(BAD, fault="tc"),
        "unusable",
        r"truncated reply and no TCP answer from resolver {res} after 2 tries",
        tcp="hangup",
    ),
    "TC bit, TCP answers garbage": ListFault(
        FakeZone(BAD, fault="tc"),
        "unusable",
        r"malformed reply from resolver {res} over TCP: opcode 7, not QUERY",
        tcp="garbage",
    ),
    "malformed packets only": ListFault(
        FakeZone(BAD, fault="garbage"),
        "unusable",
        r"malformed reply from resolver {res}: question runs past the end" + BAD_REPLIES,
    ),
    "malformed packets, then the answer": ListFault(
        FakeZone(BAD, fault="garbage+answer", listed=HIT), "listed"
    ),
    "wrong ID only": ListFault(FakeZone(BAD, fault="wrong-id"), "unusable", IGNORED),
    "wrong ID, then the answer": ListFault(
        FakeZone(BAD, fault="wrong-id+answer", listed=HIT), "listed"
    ),
    "wrong question only": ListFault(
        FakeZone(BAD, fault="wrong-question"),
        "unusable",
        r"mismatched reply from resolver {res}: another question" + BAD_REPLIES,
    ),
    # The decoy says 127.0.0.2 (listed) for another name; the right packet says NXDOMAIN.
    "wrong question, then the answer": ListFault(
        FakeZone(BAD, fault="wrong-question+answer"), "clean"
    ),
    "answers outside 127/8": ListFault(
        FakeZone(BAD, fault="answer", answer=("198.51.100.80",)),
        "unusable",
        OUTSIDE.format(a=r"198\.51\.100\.80"),
    ),
    "answers 127/8 and outside at once": ListFault(
        FakeZone(BAD, fault="answer", answer=("127.0.0.2", "10.1.2.3")),
        "unusable",
        OUTSIDE.format(a=r"10\.1\.2\.3"),
    ),
    "SERVFAIL for its zone": ListFault(FakeZone(BAD, fault="servfail"), "unusable", SERVFAIL),
    "REFUSED for its zone": ListFault(FakeZone(BAD, fault="refused"), "unusable", REFUSED),
    "answers 127.0.0.1 (query refused)": ListFault(
        FakeZone(BAD, fault="answer", answer=("127.0.0.1",)),
        "unusable",
        r"answer 127\.0\.0\.1 is not a listing \(query refused\)",
    ),
    "Spamhaus: open resolver": ListFault(
        FakeZone("zen.spamhaus.org", fault="answer", answer=("127.255.255.254",)),
        "unusable",
        r"query refused: public/open resolver.* \(127\.255\.255\.254\)",
    ),
    "Spamhaus: too many queries": ListFault(
        FakeZone("zen.spamhaus.org", fault="answer", answer=("127.255.255.255",)),
        "unusable",
        r"rate limited: excessive number of queries.* \(127\.255\.255\.255\)",
    ),
    "Spamhaus: other error code": ListFault(
        FakeZone("zen.spamhaus.org", fault="answer", answer=("127.255.255.1",)),
        "unusable",
        r".*not a listing.* \(127\.255\.255\.1\)",
    ),
}


@pytest.mark.parametrize("case", LIST_FAULTS.values(), ids=LIST_FAULTS.keys())
def test_list_fault(case: ListFault) -> None:
    bad = case.zone
    with FaultResolver([GOOD, OTHER, bad], tcp=case.tcp) as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER, bad))
    assert_others_intact(r)
    if case.verdict == "listed":
        assert (r.returncode, r.first_line) == (
            2,
            f"DNSBL CRITICAL - {ADDR} listed on 2 of 3 lists: good.test (127.0.0.2), "
            f"{bad.name} (127.0.0.3)",
        )
        assert (r.value("listed"), r.value("errors")) == ("2", "0")
    elif case.verdict == "clean":
        assert (r.returncode, r.first_line) == (
            1,
            f"DNSBL WARNING - {ADDR} listed on 1 of 3 lists: good.test (127.0.0.2)",
        )
        assert f"{bad.name}: {ADDR} not listed" in r.long_output
    else:
        reason = unusable_reason(r, bad.name)
        assert re.fullmatch(case.reason.format(res=re.escape(res.address)), reason), reason
        assert r.returncode == 1, r.stdout
        assert r.first_line == (
            f"DNSBL WARNING - {ADDR} listed on 1 of 3 lists: good.test (127.0.0.2); "
            f"1 unusable: {bad.name} ({headline(reason)})"
        )
        assert (r.value("listed"), r.value("errors")) == ("1", "1")
    if bad.fault == "tc" and case.tcp == "serve":
        assert res.tcp_queries >= 1, "the TCP fallback was never used"


# --------------------------------------------------------------------------
# Faults a real server produces: rbldnsd behind unbound

REAL_ZONES = [
    Zone("good.test", ip4=("127.0.0.2 :127.0.0.2:test", f"{ADDR} :127.0.0.2:listed for spam")),
    Zone("b.barracudacentral.org", ip4=("127.0.0.2", ADDR)),  # IPv4 only, in the catalog
    Zone("other.test", ip4=("127.0.0.2",)),
    Zone("wild.test", ip4trie=("0.0.0.0/0 :127.0.0.2:everything is listed",)),
    Zone("dead.test", behaviour="drop"),  # its authoritative server never answers
    Zone("broken.test", behaviour="servfail"),
    Zone("refusing.test", behaviour="refused"),
    Zone("silent.test", behaviour="timeout"),
]


@pytest.fixture(scope="module")
def world() -> Iterator[DnsWorld]:
    require_tool("rbldnsd")
    require_tool("unbound")
    with DnsWorld(REAL_ZONES, hosts=REAL_HOSTS) as w:
        yield w


@pytest.mark.parametrize(
    ("zone", "reason"),
    [
        pytest.param(
            "wild.test",
            r"lists the test (address|entry) 127\.0\.0\.1 too: dead or wildcarded list.*",
            id="wildcard 0/0",
        ),
        # unbound gives up on a dead server after ~0.75 s: SERVFAIL, or our own timeout
        pytest.param("dead.test", f"{SERVFAIL}|{TIMEOUT}", id="authoritative server dead"),
        pytest.param("broken.test", SERVFAIL, id="authoritative server refuses: SERVFAIL"),
        pytest.param("refusing.test", REFUSED, id="resolver refuses the zone"),
        pytest.param("silent.test", TIMEOUT, id="resolver drops the zone's queries"),
    ],
)
def test_real_server_fault(world: DnsWorld, zone: str, reason: str) -> None:
    r = plugin(world.resolver, "-H", ADDR, "-s", "good.test", "-s", "other.test", "-s", zone)
    assert_others_intact(r)
    found = unusable_reason(r, zone)
    assert re.fullmatch(reason.format(res=re.escape(world.resolver)), found), found
    assert r.returncode == 1
    assert r.first_line == (
        f"DNSBL WARNING - {ADDR} listed on 1 of 3 lists: good.test (127.0.0.2); "
        f"1 unusable: {zone} ({headline(found)})"
    )


def test_real_wildcard_list_voids_its_own_hit_only(world: DnsWorld) -> None:
    r = plugin(world.resolver, "-H", ADDR, "-s", "good.test", "-s", "wild.test")
    assert r.value("listed") == "1"  # good.test only: wild.test's "hit" is void
    assert "dead or wildcarded list" in unusable_reason(r, "wild.test")


# --------------------------------------------------------------------------
# Dirty TXT records: untrusted text must come out clean and bounded

DIRTY = (
    b"spam|source ",
    b"\nline2\r\n",
    b"\x00\x07\x1b[31mred\x1b[0m\x7f ",
    b"\xff\xfe\xc3(bad utf8 ",
    "\u202eevil\u200b ".encode(),
    b"\ttab|end",
)


def listed_line(run: Run, zone: str) -> str:
    prefix = f"{ADDR} listed on {zone}: "
    found = [line for line in run.long_output if line.startswith(prefix)]
    assert len(found) == 1, run.stdout
    return found[0]


def test_dirty_txt_is_sanitised() -> None:
    dirty = FakeZone("dirty.test", listed=HIT, txt={ADDR: DIRTY})
    with FaultResolver([GOOD, OTHER, dirty]) as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER, dirty))
    assert_others_intact(r)  # assert_sane: no |, no control characters anywhere
    line = listed_line(r, "dirty.test")
    reason = line.split('reason: "', 1)[1].split('"; lookup', 1)[0].rstrip('"')
    for word in ("spam", "source", "line2", "red", "bad utf8", "evil", "tab", "end"):
        assert word in reason, reason
    assert "  " not in reason
    assert r.returncode == 2


def test_4kb_txt_comes_over_tcp_and_is_cut() -> None:
    text = bytes(range(256)) * 16  # every byte value, 4 KB, 17 strings
    big = FakeZone("big.test", listed=HIT, txt={ADDR: txt_strings(text)})
    with FaultResolver([GOOD, OTHER, big]) as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER, big))
        assert res.tcp_queries >= 1  # too big for UDP: truncated, asked again over TCP
    assert_others_intact(r)
    line = listed_line(r, "big.test")
    assert 'reason: "' in line
    assert len(line) <= 1000
    assert len(r.stdout.encode()) <= 2048


def test_txt_that_cleans_to_nothing_is_left_out() -> None:
    """Nothing printable left: say nothing rather than ``reason: ""``."""
    junk = FakeZone("junk.test", listed=HIT, txt={ADDR: (b"\x00\x01|\n\xff",)})
    with FaultResolver([GOOD, OTHER, junk]) as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER, junk))
    assert_others_intact(r)
    assert 'reason: ""' not in listed_line(r, "junk.test")


# --------------------------------------------------------------------------
# Scale: 500 lists at once

SCALE = 500
SCALE_ZONES = tuple(arg for i in range(SCALE) for arg in ("-s", f"z{i:03d}.scale.test"))


@dataclass(frozen=True)
class ScaleRun:
    run: Run
    queries: int


@pytest.fixture(scope="module")
def scale_clean() -> ScaleRun:
    with FaultResolver(any_zone=FakeZone("any")) as res:
        r = plugin(res.address, "-H", "192.0.2.1", *SCALE_ZONES, t=10, qt=2)
        return ScaleRun(r, res.udp_queries)


def test_500_lists_at_once(scale_clean: ScaleRun) -> None:
    r = scale_clean.run
    assert (r.returncode, r.first_line) == (0, "DNSBL OK - 192.0.2.1 not listed on 500 lists")
    assert (r.value("lists"), r.value("errors"), r.value("listed")) == ("500", "0", "0")


def test_500_lists_no_reply_lost_on_loopback(scale_clean: ScaleRun) -> None:
    """One query and two self-test queries per list, none retried: on loopback
    a retry means the plugin's own socket dropped a reply (receive buffer)."""
    assert scale_clean.queries == 3 * SCALE


# --------------------------------------------------------------------------
# Issue 10 B, C, E: a result before -t with every verdict that arrived; one
# bad part never costs the other verdicts; output within Nagios's 8 KB


def test_max_qps_gives_way_to_the_deadline() -> None:
    """--max-qps 1 cannot ask 16 addresses in -t 5: what was asked keeps its
    verdict, the rest is counted as not asked with the reason, the rate holds."""
    with FaultResolver([GOOD]) as res:
        r = plugin(
            res.address, "-H", ADDR, "-H", "192.0.2.96/28", "-s", "good.test",
            "--max-qps", "1", t=5, qt=1,
        )  # fmt: skip
        sent = res.udp_queries
    assert (r.returncode, r.first_line) == (
        1,
        f"DNSBL WARNING - 1 of 16 addresses listed: {ADDR} on good.test (127.0.0.2); "
        "1 unusable: good.test (not asked before the deadline)",
    )
    note = re.fullmatch(
        r"(\d+) of 16 \(target, list\) pairs not asked before the deadline \(-t 5\); "
        r"--max-qps 1 paces the queries",
        r.long_output[0],
    )
    assert note and 12 <= int(note[1]) <= 14, r.stdout  # 2 or 3 asked after the self-test
    assert "not asked before the deadline (-t): --max-qps 1 leaves no time" in r.stdout
    assert sent <= 5  # one query a second within a budget of 4.5 s
    assert r.value("errors") == "1"


BIG_LISTS = 60
BIG_ZONES = [
    Zone(f"l{i:02d}.big.test", ip4=("127.0.0.2 :127.0.0.2:test", "198.18.0.0/20 :127.0.0.2:all"))
    for i in range(BIG_LISTS)
]


@pytest.fixture(scope="module")
def big_world() -> Iterator[DnsWorld]:
    require_tool("rbldnsd")
    require_tool("unbound")
    domain = Zone("dbl.spamhaus.org", generic=("dbltest.com A 127.0.1.2",))
    with DnsWorld([*BIG_ZONES, domain]) as w:
        yield w


def test_a_big_run_stops_at_the_deadline_with_every_verdict(big_world: DnsWorld) -> None:
    """4096 addresses on 60 lists (245,760 pairs, every one listed) cannot all
    be asked in -t 6: the run still ends inside -t, CRITICAL with what it got,
    counts what it could not ask, and its output fits Nagios's 8 KB."""
    lists = [arg for z in BIG_ZONES for arg in ("-s", z.name)]
    r = plugin(big_world.resolver, "-H", "198.18.0.0/20", "--max-addresses", "4096", *lists, t=6)
    assert r.returncode == 2
    assert re.match(
        r"DNSBL CRITICAL - \d+ of 4096 addresses listed: 198\.18\.0\.0 on ", r.first_line
    )
    note = re.fullmatch(
        r"(\d+) of 245760 \(target, list\) pairs not asked before the deadline \(-t 6\)",
        r.long_output[0],
    )
    assert note, r.long_output[0]
    assert int(r.value("listed")) + int(note[1]) <= 245760
    assert (r.value("addresses"), r.value("lists")) == ("4096", str(BIG_LISTS))
    assert len(r.stdout.encode()) <= MAX_OUTPUT


def test_output_fits_8_kb_at_vvv_with_a_domain_too(big_world: DnsWorld) -> None:
    """A /20 on 30 lists plus -d, at -vvv: 8,193 bytes before; the bound is in
    bytes and holds the perfdata."""
    lists = [arg for z in BIG_ZONES[:30] for arg in ("-s", z.name)]
    r = plugin(
        big_world.resolver, "-H", "198.18.0.0/20", "--max-addresses", "4096", *lists,
        "-s", "dbl.spamhaus.org", "-d", "example.com", "-vvv", t=6,
    )  # fmt: skip
    assert r.returncode == 2
    assert len(r.stdout.encode()) <= MAX_OUTPUT
    assert r.lines[-1].startswith("| ") and "domains=1;" in r.lines[-1]
    assert re.fullmatch(r"\.\.\. \d+ more lines not shown \(output limit\)", r.lines[-2])


def test_output_fits_8_kb_in_bytes_with_cjk_tags(tmp_path: Path) -> None:
    """Tags and meanings of three bytes a character: the first line and the
    whole output are bounded in bytes, and the perfdata stays inside."""
    count = 60
    lists = tmp_path / "lists.toml"
    lists.write_text(
        "".join(
            f'[[list]]\nzone = "c{i:02d}.cjk.test"\n[list.codes]\n'
            f'"127.0.0.2" = ["{"漢字" * 100}", "{"意味" * 200}"]\n'
            for i in range(count)
        ),
        encoding="utf-8",
    )
    listing = [FakeZone(f"c{i:02d}.cjk.test", listed={ADDR: ("127.0.0.2",)}) for i in range(count)]
    with FaultResolver(listing) as res:
        r = plugin(res.address, "-H", ADDR, "--lists-file", str(lists), t=8, qt=2)
    assert r.returncode == 2
    assert len(r.stdout.encode()) <= MAX_OUTPUT, len(r.stdout.encode())
    assert len(r.first_line.encode()) <= MAX_FIRST_LINE
    assert r.lines[-1].startswith("| ") and f"listed={count};" in r.lines[-1]


def test_the_address_cap_covers_every_target_together() -> None:
    """Networks are counted together before anything is sent (16 times /20 was
    65,536 addresses when the cap applied per network)."""
    nets = [arg for i in range(16) for arg in ("-H", f"10.{i}.0.0/20")]
    r = check_dnsbl(*nets, "--max-addresses", "4096")
    assert (r.returncode, r.first_line) == (
        3,
        "DNSBL UNKNOWN - -H gives 65536 addresses in all; the limit is 4096 "
        "(--max-addresses, at most 4096) (see --help)",
    )


REAL_HOSTS = {
    "split.test": ("MX 10 a.split.test.", "MX 20 b.split.test."),  # b does not resolve
    "a.split.test": (f"A {ADDR}",),
    "many.split.test": tuple(f"A 192.0.2.{i}" for i in range(100, 120)),
}


def test_an_mx_host_that_does_not_resolve_costs_only_itself(world: DnsWorld) -> None:
    r = plugin(world.resolver, "--mx", "split.test", "-s", "good.test", "-s", "other.test")
    assert (r.returncode, r.first_line) == (
        1,
        f"DNSBL WARNING - {ADDR} (a.split.test, MX of split.test) listed on 1 of 2 lists: "
        "good.test (127.0.0.2); cannot resolve b.split.test (MX of split.test): no such name",
    )
    assert r.long_output[0] == "cannot resolve b.split.test (MX of split.test): no such name"
    assert_others_intact(r)
    assert r.value("unchecked") == "1"


def test_names_that_do_not_resolve_cost_only_themselves(world: DnsWorld) -> None:
    r = plugin(world.resolver, "-H", "nowhere.test", "-H", "a.split.test", "-s", "good.test")
    assert r.returncode == 1
    assert r.first_line == (
        f"DNSBL WARNING - {ADDR} (a.split.test) listed on 1 of 1 list: good.test (127.0.0.2); "
        "cannot resolve nowhere.test: no such name"
    )
    assert r.perfdata["unchecked"] == "1;0;;0"
    # nothing at all resolves: then, and only then, UNKNOWN, naming each
    r = plugin(world.resolver, "-H", "nowhere.test", "--mx", "gone.test", "-s", "good.test")
    assert (r.returncode, r.first_line) == (
        3,
        "DNSBL UNKNOWN - cannot resolve nowhere.test: no such name; "
        "cannot resolve MX of gone.test: no such name",
    )


def test_the_address_cap_cuts_names_and_says_what(world: DnsWorld) -> None:
    r = plugin(
        world.resolver, "-H", "a.split.test", "-H", "many.split.test", "-s", "good.test",
        "--max-addresses", "8",
    )  # fmt: skip
    assert r.returncode == 1
    assert r.first_line == (
        f"DNSBL WARNING - 1 of 8 addresses listed: {ADDR} (a.split.test) on good.test "
        "(127.0.0.2); 13 addresses of many.split.test not checked: --max-addresses 8 reached"
    )
    assert (r.value("addresses"), r.value("unchecked")) == ("8", "1")


def test_one_thing_named_two_ways_counts_once(world: DnsWorld) -> None:
    r = plugin(world.resolver, "-H", ADDR, "-s", "good.test", "-s", "GOOD.TEST.")
    assert r.first_line == f"DNSBL WARNING - {ADDR} listed on 1 of 1 list: good.test (127.0.0.2)"
    assert (r.value("listed"), r.value("lists")) == ("1", "1")
    # an IPv4-mapped address is that IPv4 address, asked of IPv4-only lists too
    for given in (f"::ffff:{ADDR}", "::FFFF:c000:263"):
        r = plugin(world.resolver, "-H", given, "-H", ADDR, *BARRACUDA, "-s", "good.test")
        assert (r.returncode, r.first_line) == (
            2,
            f"DNSBL CRITICAL - {ADDR} listed on 2 of 2 lists: b.barracudacentral.org, "
            "good.test (127.0.0.2)",
        )


def test_a_lists_file_naming_a_zone_twice_is_refused(tmp_path: Path) -> None:
    lists = tmp_path / "lists.toml"
    lists.write_text('[[list]]\nzone = "good.test"\n[[list]]\nzone = "Good.Test."\n')
    r = check_dnsbl("-H", ADDR, "--lists-file", str(lists))
    assert (r.returncode, r.first_line) == (
        3,
        f"DNSBL UNKNOWN - {lists}: list #2: good.test is defined already in list #1 (see --help)",
    )


def test_addresses_are_shown_as_admins_write_them(world: DnsWorld) -> None:
    r = plugin(world.resolver, "-H", "64:FF9B::C000:263", "-s", "good.test", "-vvv")
    assert r.first_line == "DNSBL OK - 64:ff9b::192.0.2.99 not listed on 1 list"
    assert "self-test good.test: ::ffff:127.0.0.2 listed, ::ffff:127.0.0.1 not listed" in (
        r.long_output
    )


# E: output


DQS_KEY = "Qe7fJ3kWm9TzLp2Xc5RvB8nH4d"


def _key_pieces_in(text: str) -> list[str]:
    low = text.lower()
    return [
        DQS_KEY[i : i + 4] for i in range(len(DQS_KEY) - 3) if DQS_KEY[i : i + 4].lower() in low
    ]


@pytest.mark.parametrize("pad", [0, 250, 272, 280, 290, 299])
def test_a_txt_echoing_the_key_never_leaks_a_piece_of_it(pad: int) -> None:
    """A TXT that echoes the query name after padding: the 300-byte cut of the
    reason falls anywhere in the key, which is redacted first."""
    keyed = f"{DQS_KEY}.zen.dq.spamhaus.net"
    for echo in (keyed.encode(), f"{DQS_KEY[:9]}\x07{DQS_KEY[9:]}".encode()):
        zone = FakeZone(
            keyed, listed={ADDR: ("127.0.0.2",)}, txt={ADDR: txt_strings(b"x" * pad + b" " + echo)}
        )
        with FaultResolver([zone]) as res:
            r = check_dnsbl(
                "-n", res.address, "-H", ADDR, "-s", "zen.spamhaus.org", "--no-state", "-vvv",
                env={"DNSBL_DQS_KEY": DQS_KEY},
            )  # fmt: skip
        assert (
            r.first_line
            == f"DNSBL CRITICAL - {ADDR} listed on 1 of 1 list: zen.spamhaus.org (DQS) (SBL)"
        )
        assert _key_pieces_in(r.stdout) == [], r.stdout


def test_a_key_written_into_a_zone_is_used_and_never_shown(tmp_path: Path) -> None:
    keyed = f"{DQS_KEY}.zen.dq.spamhaus.net"
    zone = FakeZone(keyed, listed={ADDR: ("127.0.0.4",)}, txt={ADDR: (keyed.encode(),)})
    lists = tmp_path / "lists.toml"
    lists.write_text(f'[[list]]\nzone = "{keyed.upper()}"\n')
    with FaultResolver([zone]) as res:
        for how in (
            ["-s", keyed],
            ["-s", keyed, "-s", "zen.spamhaus.org"],
            ["--lists-file", str(lists)],
        ):
            r = plugin(res.address, "-H", ADDR, *how)
            assert r.first_line == (
                f"DNSBL CRITICAL - {ADDR} listed on 1 of 1 list: zen.spamhaus.org (DQS) (XBL)"
            ), how
            assert _key_pieces_in(r.stdout) == [], r.stdout


def test_usage_errors_never_echo_what_may_be_a_key(tmp_path: Path) -> None:
    ini = tmp_path / "plugins.ini"
    ini.write_text(f"[dnsbl]\nserver=good.test\ndqs-key={DQS_KEY}\n{DQS_KEY}\n")
    for argv, message in (
        (
            [f"--extra-opts=dnsbl@{ini}"],
            f"--extra-opts: line 3 of {ini} is not an option of check_dnsbl "
            "(not shown: it may hold a secret)",
        ),
        ([f"--dqs-key={DQS_KEY}"], "unrecognized arguments: --dqs-key"),
        ([DQS_KEY], "unexpected argument (not shown): give what to check with -H, --mx or -d"),
    ):
        r = check_dnsbl("-H", ADDR, *argv)
        assert (r.returncode, r.stdout) == (3, f"DNSBL UNKNOWN - {message} (see --help)\n")


def _plugin_to(stdout: object, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "check_dnsbl", "--no-state", *args],
        stdout=stdout, stderr=subprocess.PIPE, timeout=30, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


@pytest.mark.parametrize("args", [[], ["-H", ADDR, "-s", "good.test"], ["--help"]])
def test_a_stdout_that_cannot_be_written_is_exit_3_and_silent(args: list[str]) -> None:
    with FaultResolver([GOOD]) as res, open("/dev/full", "wb") as full:
        proc = _plugin_to(full, "-n", res.address, *args)
    assert (proc.returncode, proc.stderr) == (3, b"")
    # a closed stdout, and a reader that went away, end the same way
    with FaultResolver([GOOD], delay=0.5) as res:
        closed = subprocess.run(
            ["bash", "-c", 'exec >&-; exec "$@"', "_", sys.executable, "-m", "check_dnsbl",
             "--no-state", "-n", res.address, *args],
            stderr=subprocess.PIPE, timeout=30, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert (closed.returncode, closed.stderr) == (3, b"")
        reader, writer = os.pipe()
        os.close(reader)  # nobody will ever read
        with os.fdopen(writer, "wb") as gone:
            proc = _plugin_to(gone, "-n", res.address, *args)
        assert (proc.returncode, proc.stderr) == (3, b"")


# --------------------------------------------------------------------------
# Safety rules that apply to the current code


def assert_bounded(run: Run) -> None:
    """Within what Nagios reads; long output cut, never the perfdata line."""
    assert len(run.stdout.encode()) <= MAX_OUTPUT, f"{len(run.stdout.encode())} bytes"
    assert len(run.first_line.encode()) <= MAX_FIRST_LINE, f"first line: {run.first_line!r}"
    assert run.lines[-1].startswith("| ")
    assert run.value("lists") in {"1", str(SCALE)}


def test_output_bounded_with_500_listings_and_unusable_lists() -> None:
    """250 lists list the address with a long TXT reason, 250 answer outside
    127/8: 500 long-output lines, far beyond what Nagios reads."""
    reason = b"listed because this address sent spam to our traps; see the web site " * 3
    listing = [
        FakeZone(f"z{i:03d}.scale.test", listed={ADDR: ("127.0.0.2",)}, txt={ADDR: (reason,)})
        for i in range(SCALE // 2)
    ]
    parked = FakeZone("any", fault="answer", answer=("198.51.100.80",))
    with FaultResolver(listing, any_zone=parked) as res:
        r = plugin(res.address, "-H", ADDR, *SCALE_ZONES, t=10, qt=2)
    assert r.returncode == 2
    assert r.first_line.startswith(f"DNSBL CRITICAL - {ADDR} listed on 250 of 500 lists: ")
    assert (r.value("listed"), r.value("errors")) == ("250", "250")
    assert_bounded(r)


def test_output_bounded_with_a_list_answering_1000_codes() -> None:
    codes = tuple(f"127.0.{i // 250}.{i % 250 + 2}" for i in range(1000))
    many = FakeZone("many.test", listed={ADDR: codes})
    with FaultResolver([many]) as res:
        r = plugin(res.address, "-H", ADDR, "-s", "many.test")
        assert res.tcp_queries >= 1
    assert r.returncode == 1
    assert r.value("listed") == "1"
    assert_bounded(r)


# --- D: only well-formed replies become verdicts


LISTED_ON_BOTH = (
    f"DNSBL CRITICAL - {ADDR} listed on 2 of 3 lists: good.test (127.0.0.2), {BAD} (127.0.0.3)"
)


def malformed_count(run: Run) -> int:
    """The -vv count of malformed or mismatched replies."""
    pattern = r"\d+ queries sent to .+; (\d+) malformed or mismatched replies ignored"
    found = [m for line in run.long_output if (m := re.fullmatch(pattern, line))]
    assert len(found) == 1, run.stdout
    return int(found[0][1])


def about_addr(query: dns.message.Message) -> bool:
    """A query about ADDR, not one of the list's self-test entries."""
    return query.question[0].name.to_text().startswith(".".join(reversed(ADDR.split("."))))


def forged(
    build: Callable[[dns.message.Message], bytes], fault: str = "garbage", **kwargs: Any
) -> FakeZone:
    """bad.test, answering the queries about ADDR with the packet ``build``
    makes (then, for "garbage+answer", honestly), and its self-test entries
    honestly once: they pass, the packet is all that stands between ADDR and
    a verdict."""

    def junk(query: dns.message.Message, honest: bytes) -> list[bytes]:
        if about_addr(query):
            return [build(query)]
        return [] if fault.endswith("+answer") else [honest]

    return FakeZone(BAD, fault=fault, junk=junk, **kwargs)


def assert_unusable(run: Run, reason: str, detail: str = "") -> None:
    """bad.test unusable for ``reason`` (``detail`` after it on its own line)."""
    line = f"{BAD} unusable for {ADDR}: {reason}{detail}"
    assert line in run.long_output, run.stdout
    assert (run.returncode, run.first_line) == (
        1,
        f"DNSBL WARNING - {ADDR} listed on 1 of 3 lists: good.test (127.0.0.2); "
        f"1 unusable: {BAD} ({reason})",
    )
    assert (run.value("listed"), run.value("errors")) == ("1", "1")
    assert_others_intact(run)


@pytest.mark.parametrize("shape", MALFORMED, ids=MALFORMED)
def test_malformed_reply_is_unusable_with_its_reason(shape: str) -> None:
    """bad.test's A query about ADDR gets only the malformed reply, on each of
    its 2 tries: 2 counted, no verdict."""
    build, what = MALFORMED[shape]
    with FaultResolver([GOOD, OTHER, forged(build)]) as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER), "-s", BAD, "-v")
    reason = f"malformed reply from resolver {res.address}: {what}"
    assert_unusable(r, reason, " (2 malformed or mismatched replies to 2 tries)")
    assert malformed_count(r) == 2


@pytest.mark.parametrize("shape", ["A record of 3 bytes", "answer of class CH", "QR clear"])
def test_malformed_reply_then_the_good_one_is_a_listing(shape: str) -> None:
    """A bad packet under the query's ID (anyone can send one) does not end the
    try: the resolver's good reply, 20 ms later, still counts."""
    bad = forged(MALFORMED[shape][0], fault="garbage+answer", listed=HIT)
    with FaultResolver([GOOD, OTHER, bad]) as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER), "-s", BAD, "-v")
    assert (r.returncode, r.first_line) == (2, LISTED_ON_BOTH)
    assert_others_intact(r)
    assert malformed_count(r) == 2  # one per query about ADDR: A and TXT


@pytest.mark.parametrize("shape", TCP_MALFORMED, ids=TCP_MALFORMED)
def test_bad_tcp_reply_is_unusable_at_once(shape: str) -> None:
    """The UDP reply has TC set; the TCP reply about ADDR is bad. Nobody but
    the resolver can answer over TCP: unusable at once, no second try."""
    build, what = TCP_MALFORMED[shape]
    bad = FakeZone(
        BAD,
        fault="tc",
        listed=HIT,
        tcp_junk=lambda query, honest: build(query) if about_addr(query) else honest,
    )
    with FaultResolver([GOOD, OTHER, bad]) as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER), "-s", BAD, "-v")
        assert res.tcp_queries == 3  # ADDR and the two self-test entries, each once
    assert_unusable(r, f"malformed reply from resolver {res.address} over TCP: {what}")
    assert malformed_count(r) == 1


def test_extended_rcode_is_not_nxdomain() -> None:
    """NXDOMAIN in the header, 1 in the OPT record's extended rcode bits: a
    well-formed reply with rcode 19, which is no "not listed"."""
    opt = rr(41, b"", owner=b"\x00", rclass=1232, ttl=1 << 24)
    bad = forged(lambda query: raw_reply(query, additional=[opt], rcode=3))
    with FaultResolver([GOOD, OTHER, bad]) as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER), "-s", BAD, "-v")
    assert_unusable(r, "resolver answered RCODE19")
    assert malformed_count(r) == 0


def test_malformed_txt_reply_leaves_the_listing_without_a_reason() -> None:
    """The A reply lists the address; the TXT reply to the same name is
    malformed (a record without strings): the listing stands, without the
    list's reason text, and the TXT query's 2 bad replies are counted."""

    def junk(query: dns.message.Message, honest: bytes) -> list[bytes]:
        if query.question[0].rdtype == dns.rdatatype.TXT:
            return [raw_reply(query, [rr(dns.rdatatype.TXT, b"")])]
        return [honest]

    bad = FakeZone(BAD, fault="garbage", listed=HIT, txt={ADDR: (b"spam",)}, junk=junk)
    with FaultResolver([GOOD, OTHER, bad]) as res:
        r = plugin(res.address, "-H", ADDR, *zones(GOOD, OTHER), "-s", BAD, "-v")
    assert (r.returncode, r.first_line) == (2, LISTED_ON_BOTH)
    assert listed_line(r, BAD) == f"{ADDR} listed on {BAD}: 127.0.0.3", r.stdout
    assert malformed_count(r) == 2
    assert_others_intact(r)
