"""The core check against real DNS: rbldnsd serves the zones, unbound resolves.

Each trap of issue 2 has its own zone: a wildcarded (dead) list, a parked
zone answering outside 127/8, an empty list, Spamhaus's error codes, a list
that drops every query, a list whose server fails, and a resolver that is down.
"""

import re
import shlex
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Run, check_dnsbl
from tests.dnsworld import DnsWorld, Zone, require_tool

TEST_V4 = "127.0.0.2 :127.0.0.2:RFC 5782 test entry"
TEST_V6 = "::ffff:7f00:2 :127.0.0.2:RFC 5782 test entry"
ZEN_TXT = "https://www.spamhaus.org/query/ip/198.51.100.10"

ZONES = [
    Zone(
        "zen.spamhaus.org",
        ip4=(TEST_V4, f"198.51.100.10 :127.0.0.4:{ZEN_TXT}", "198.51.100.11 :127.0.0.10:PBL"),
        ip6=(TEST_V6, "2001:db8::10 :127.0.0.2:SBL listing"),
    ),
    Zone("b.barracudacentral.org", ip4=(TEST_V4, "198.51.100.10", "198.51.100.12")),
    Zone("bl.spamcop.net", ip4=(TEST_V4, "198.51.100.13 :127.0.0.2:Blocked - see spamcop")),
    Zone("psbl.surriel.com", ip4=(TEST_V4, "198.51.100.13", "198.51.100.14")),
    Zone("dnsbl.dronebl.org", ip4=(TEST_V4, "198.51.100.15 :127.0.0.7:DDoS drone")),
    Zone("dnsbl.wild.test", ip4trie=("0.0.0.0/0 :127.0.0.2:everything is listed",)),
    Zone("dnsbl.parked.test", ip4trie=("0.0.0.0/0 :198.51.100.80:parked",)),
    Zone("dnsbl.empty.test", ip4=("10.255.255.254",)),
    Zone("sbl.spamhaus.org", ip4trie=("0.0.0.0/0 :127.255.255.254:open resolver",)),
    Zone("dnsbl.dropped.test", behaviour="timeout"),
    Zone("dnsbl.broken.test", behaviour="servfail"),
]
HOSTS = {
    "mail.example.test": ("A 198.51.100.10", "AAAA 2001:db8::10"),
    "clean.example.test": ("A 192.0.2.1", "AAAA 2001:db8::1"),
}
FOUR = (
    "-s",
    "zen.spamhaus.org",
    "-s",
    "b.barracudacentral.org",
    "-s",
    "bl.spamcop.net",
    "-s",
    "psbl.surriel.com",
)


@pytest.fixture(scope="module")
def world() -> Iterator[DnsWorld]:
    require_tool("rbldnsd")
    require_tool("unbound")
    with DnsWorld(ZONES, hosts=HOSTS) as w:
        yield w


def check(world: DnsWorld, *args: str) -> Run:
    return check_dnsbl("-n", world.resolver, "--query-timeout", "0.5", *args)


def test_clean_address(world: DnsWorld) -> None:
    r = check(world, "-H", "192.0.2.1", *FOUR)
    assert (r.returncode, r.first_line) == (0, "DNSBL OK - 192.0.2.1 not listed on 4 lists")
    assert r.perfdata["listed"] == "0;0;1;0;4"
    assert r.perfdata["errors"] == "0;0;;0;4"
    assert r.perfdata["lists"] == "4;;;0"
    assert r.perfdata["time"].endswith("s;;;0")
    assert r.long_output == []


def test_listed_address_names_lists_codes_reason_and_delist_url(world: DnsWorld) -> None:
    r = check(world, "-H", "198.51.100.10", *FOUR)
    assert r.returncode == 2
    assert r.first_line == (
        "DNSBL CRITICAL - 198.51.100.10 listed on 2 of 4 lists: "
        "zen.spamhaus.org (XBL), b.barracudacentral.org"
    )
    assert r.long_output == [
        "198.51.100.10 listed on zen.spamhaus.org: 127.0.0.4 XBL: Exploits Block List: infected "
        f'or exploited host (botnet, proxy, malware); reason: "{ZEN_TXT}"; '
        "lookup/delist: https://check.spamhaus.org/results/?query=198.51.100.10",
        "198.51.100.10 listed on b.barracudacentral.org: 127.0.0.2 poor reputation: sent spam "
        "to Barracuda's traps; lookup/delist: https://www.barracudacentral.org/rbl/removal-request",
    ]
    assert r.perfdata["listed"] == "2;0;1;0;4"


def test_one_hit_on_a_critical_list_is_critical(world: DnsWorld) -> None:
    r = check(world, "-H", "198.51.100.12", *FOUR)
    assert r.returncode == 2
    assert r.first_line == (
        "DNSBL CRITICAL - 198.51.100.12 listed on 1 of 4 lists: b.barracudacentral.org"
    )


def test_pbl_is_critical_too(world: DnsWorld) -> None:
    r = check(world, "-H", "198.51.100.11", *FOUR)
    assert r.returncode == 2
    assert r.first_line.endswith("listed on 1 of 4 lists: zen.spamhaus.org (PBL)")


@pytest.mark.parametrize(
    ("address", "thresholds", "state", "perf"),
    [
        ("198.51.100.14", (), 1, "1;0;1;0;4"),  # one normal hit: -w 1
        ("198.51.100.13", (), 2, "2;0;1;0;4"),  # two normal hits: -c 2
        ("198.51.100.13", ("-w", "2", "-c", "3"), 1, "2;1;2;0;4"),
        ("198.51.100.14", ("-w", "2", "-c", "3"), 0, "1;1;2;0;4"),
    ],
)
def test_counts_toward_thresholds(
    world: DnsWorld, address: str, thresholds: tuple[str, ...], state: int, perf: str
) -> None:
    r = check(world, "-H", address, *FOUR, *thresholds)
    assert r.returncode == state, r.stdout
    assert r.perfdata["listed"] == perf


def test_info_list_never_raises_the_state(world: DnsWorld) -> None:
    r = check(world, "-H", "198.51.100.15", "-s", "dnsbl.dronebl.org", "-s", "bl.spamcop.net")
    assert r.returncode == 0
    assert r.first_line == (
        "DNSBL OK - 198.51.100.15 listed on 1 of 2 lists: dnsbl.dronebl.org (DDoS, info)"
    )
    assert r.perfdata["listed"] == "0;0;1;0;2"
    assert r.long_output == [
        "198.51.100.15 listed on dnsbl.dronebl.org: 127.0.0.7 DDoS: DDoS drone (informational "
        'list); reason: "DDoS drone"; lookup/delist: https://dronebl.org/lookup?ip=198.51.100.15'
    ]


@pytest.mark.parametrize(
    ("zone", "reason"),
    [
        (
            "dnsbl.wild.test",
            "lists the test entry 127.0.0.1 too: dead or wildcarded list, remove it",
        ),
        (
            "dnsbl.parked.test",
            "answer 198.51.100.80 is outside 127.0.0.0/8: parked or hijacked "
            "zone, or a resolver rewriting NXDOMAIN",
        ),
        (
            "dnsbl.empty.test",
            "self-test failed: test entry 127.0.0.2 is not listed: list empty, "
            "dead or refusing this resolver",
        ),
        (
            "sbl.spamhaus.org",
            "query refused: public/open resolver (use your own resolver or "
            "Spamhaus DQS) (127.255.255.254)",
        ),
        ("dnsbl.broken.test", "resolver {resolver} answered SERVFAIL"),
        ("dnsbl.sorbs.net", "dead list: SORBS was shut down on 5 June 2024; remove it"),
    ],
)
def test_traps_are_unusable_never_listed_never_clean(
    world: DnsWorld, zone: str, reason: str
) -> None:
    r = check(world, "-H", "192.0.2.1", "-s", "zen.spamhaus.org", "-s", zone)
    assert r.returncode == 1, r.stdout
    assert r.first_line.startswith(
        "DNSBL WARNING - 192.0.2.1 not listed on 1 of 2 lists; 1 unusable: "
    )
    reason = reason.format(resolver=world.resolver)
    assert f"{zone} unusable for 192.0.2.1: {reason}" in r.long_output
    assert r.perfdata["listed"] == "0;0;1;0;2"
    assert r.perfdata["errors"] == "1;0;;0;2"


def test_wildcard_list_hits_are_void(world: DnsWorld) -> None:
    r = check(world, "-H", "198.51.100.14", "-s", "dnsbl.wild.test", "-s", "psbl.surriel.com")
    assert r.returncode == 1
    assert r.first_line == (
        "DNSBL WARNING - 198.51.100.14 listed on 1 of 2 lists: psbl.surriel.com; 1 unusable: "
        "dnsbl.wild.test (lists the test entry 127.0.0.1 too: dead or wildcarded list, "
        "remove it)"
    )
    assert r.value("listed") == "1"


def test_dropped_list_costs_only_its_own_verdict(world: DnsWorld) -> None:
    started = time.monotonic()
    r = check(world, "-H", "198.51.100.10", *FOUR, "-s", "dnsbl.dropped.test", "-t", "15")
    elapsed = time.monotonic() - started
    assert r.returncode == 2
    assert r.first_line == (
        "DNSBL CRITICAL - 198.51.100.10 listed on 2 of 5 lists: zen.spamhaus.org (XBL), "
        "b.barracudacentral.org; 1 unusable: dnsbl.dropped.test (timeout: no answer from "
        f"resolver {world.resolver} after 2 tries)"
    )
    assert elapsed < 15


def test_resolver_down_is_unknown_and_names_the_resolver(world: DnsWorld) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = check_dnsbl("-n", f"127.0.0.1:{port}", "-H", "192.0.2.1", *FOUR)
    assert r.returncode == 3
    assert r.first_line == (
        "DNSBL UNKNOWN - no usable answer from any list for 192.0.2.1: "
        f"resolver 127.0.0.1:{port} unreachable"
    )
    assert r.perfdata["errors"] == "4;0;;0;4"


def test_error_thresholds(world: DnsWorld) -> None:
    args = ("-H", "192.0.2.1", "-s", "zen.spamhaus.org", "-s", "dnsbl.broken.test")
    assert check(world, *args, "--errors-warning", "0").returncode == 0
    assert check(world, *args, "--errors-warning", "2").returncode == 0
    assert check(world, *args, "--errors-critical", "1").returncode == 2


def test_ipv6_address_and_a_list_without_ipv6_data(world: DnsWorld) -> None:
    r = check(
        world,
        "-v",
        "-H",
        "2001:db8::10",
        "-s",
        "zen.spamhaus.org",
        "-s",
        "b.barracudacentral.org",
        "-s",
        "dnsbl.empty.test",
        "-s",
        "bl.spamcop.net",
    )
    assert r.returncode == 2
    assert r.first_line == (
        "DNSBL CRITICAL - 2001:db8::10 listed on 1 of 3 lists: zen.spamhaus.org (SBL); "
        "1 unusable: dnsbl.empty.test (self-test failed: IPv6 test entry ::ffff:127.0.0.2 is not "
        "listed: no IPv6 data, or refusing us)"
    )
    assert "b.barracudacentral.org: 2001:db8::10 not applicable (list has no IPv6 data)" in (
        r.long_output
    )
    assert "bl.spamcop.net: 2001:db8::10 not listed" in r.long_output


def test_host_name_checks_every_a_and_aaaa(world: DnsWorld) -> None:
    r = check(
        world, "-H", "mail.example.test", "-s", "zen.spamhaus.org", "-s", "b.barracudacentral.org"
    )
    assert r.returncode == 2
    assert r.first_line == (
        "DNSBL CRITICAL - 2 of 2 addresses listed: 198.51.100.10 (mail.example.test) on "
        "zen.spamhaus.org (XBL), b.barracudacentral.org; 2001:db8::10 (mail.example.test) on "
        "zen.spamhaus.org (SBL)"
    )
    # listed: the worst address's count, with the thresholds; listed_total: all, without
    assert (r.value("addresses"), r.value("addresses_listed")) == ("2", "2")
    assert (r.perfdata["listed"], r.perfdata["listed_total"]) == ("2;0;1;0;2", "3;;;0;3")


def test_clean_host_name(world: DnsWorld) -> None:
    r = check(world, "-H", "clean.example.test", "-s", "zen.spamhaus.org")
    assert (r.returncode, r.first_line) == (0, "DNSBL OK - 2 addresses not listed on 1 list")


def test_unresolvable_host_name(world: DnsWorld) -> None:
    r = check(world, "-H", "nohost.example.test", "-s", "zen.spamhaus.org")
    assert (r.returncode, r.first_line) == (
        3,
        "DNSBL UNKNOWN - cannot resolve nohost.example.test: no such name",
    )


def test_lists_file_defines_meaning_and_severity(world: DnsWorld, tmp_path: Path) -> None:
    lists = tmp_path / "lists.toml"
    lists.write_text(
        '[[list]]\nzone = "psbl.surriel.com"\nseverity = "critical"\n'
        'url = "https://example.test/{address}"\n'
        '[list.codes]\n"127.0.0.2" = ["TRAP", "hit our traps"]\n'
    )
    r = check(world, "-H", "198.51.100.14", "--lists-file", str(lists))
    assert (r.returncode, r.first_line) == (
        2,
        "DNSBL CRITICAL - 198.51.100.14 listed on 1 of 1 list: psbl.surriel.com (TRAP)",
    )
    assert r.long_output[0].endswith("lookup/delist: https://example.test/198.51.100.14")


def test_verbose_shows_every_verdict(world: DnsWorld) -> None:
    r = check(world, "-vv", "-H", "192.0.2.1", *FOUR)
    assert "zen.spamhaus.org: 192.0.2.1 not listed" in r.long_output
    assert any(line.startswith("12 queries sent to ") for line in r.long_output), r.stdout


def test_result_comes_before_the_run_budget_with_every_answer(world: DnsWorld) -> None:
    """A per-query wait longer than -t must not push the result past -t."""
    started = time.monotonic()
    r = check_dnsbl(
        "-n",
        world.resolver,
        "-t",
        "2",
        "--query-timeout",
        "10",
        "-H",
        "198.51.100.10",
        *FOUR,
        "-s",
        "dnsbl.dropped.test",
    )
    assert time.monotonic() - started < 2
    assert r.returncode == 2
    assert r.first_line.endswith(
        "; 1 unusable: dnsbl.dropped.test (timeout: no answer before the run's deadline)"
    )


def test_extra_opts_ini(world: DnsWorld, tmp_path: Path) -> None:
    ini = tmp_path / "plugins.ini"
    ini.write_text(
        "[rbl]\n; lists\nserver=zen.spamhaus.org\nserver = bl.spamcop.net\n[other]\nw=9\n"
    )
    r = check(world, "-H", "198.51.100.10", f"--extra-opts=rbl@{ini}")
    assert r.first_line == (
        "DNSBL CRITICAL - 198.51.100.10 listed on 1 of 2 lists: zen.spamhaus.org (XBL)"
    )
    r = check(world, "-H", "198.51.100.10", f"--extra-opts=nope@{ini}")
    assert (r.returncode, r.first_line) == (
        3,
        f"DNSBL UNKNOWN - --extra-opts: no section [nope] in {ini} (see --help)",
    )


def test_debian_nagios_check_rbl_command_runs_unchanged(world: DnsWorld) -> None:
    """Debian's Nagios command for check_rbl (monitoring-plugins-contrib) with
    its 207-list check_rbl.ini, check_dnsbl installed as check_rbl."""
    cfg = Path("/etc/nagios-plugins/config/rbl.cfg")
    if not cfg.exists():
        require_tool("/usr/lib/nagios/plugins/check_rbl")  # fails under CI, skips elsewhere
    match = re.search(r"command_line\s+(.*)", cfg.read_text())
    assert match is not None
    argv = shlex.split(match.group(1).replace("$HOSTADDRESS$", "198.51.100.10"))[1:]
    assert any(a.startswith("--extra-opts=") for a in argv)
    r = check(world, *argv)
    assert r.returncode == 2
    assert re.match(
        r"DNSBL CRITICAL - 198\.51\.100\.10 listed on 2 of \d+ lists: "
        r"(zen\.spamhaus\.org \(XBL\), b\.barracudacentral\.org|"
        r"b\.barracudacentral\.org, zen\.spamhaus\.org \(XBL\)); \d+ unusable: ",
        r.first_line,
    ), r.first_line
    (sorbs,) = [line for line in r.long_output if "dnsbl.sorbs.net" in line]
    assert sorbs.endswith(
        "unusable for 198.51.100.10: dead list: SORBS was shut down on 5 June 2024; remove it"
    )
    assert len(r.first_line) < 300


def test_vvv_shows_each_self_test(world: DnsWorld) -> None:
    r = check(world, "-vvv", "-H", "192.0.2.1", "-s", "zen.spamhaus.org", "-s", "dnsbl.wild.test")
    assert "self-test zen.spamhaus.org: 127.0.0.2 listed, 127.0.0.1 not listed" in r.long_output
    assert "self-test dnsbl.wild.test: 127.0.0.2 listed, 127.0.0.1 listed" in r.long_output
