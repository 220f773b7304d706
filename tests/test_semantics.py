"""What the lists mean (issue 11), against real rbldnsd + unbound: allowlists
are never listings, each code has its own severity, a list's explicit codes
beat the generic rules, rate limiting is its own reason, and the thresholded
perfdata is the count the state comes from."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Run, check_dnsbl
from tests.dnsworld import DnsWorld, Zone, require_tool

TEST_V4 = "127.0.0.2 :127.0.0.2:RFC 5782 test entry"
DNSWL_TXT = "https://www.dnswl.org/s/?s=12345"
ZONES = [
    Zone(
        "zen.spamhaus.org",
        ip4=(
            TEST_V4,
            "198.51.100.92 :127.0.0.5:reserved XBL code",
            "198.51.100.93 :127.0.0.8:a code Spamhaus does not document",
            "198.51.100.94 :127.255.255.255:Excessive number of queries",
            "198.51.100.95 :127.0.0.10:PBL",
        ),
    ),
    Zone("bl.mailspike.net", ip4=(TEST_V4, "198.51.100.95 :127.0.0.13:L2")),
    # DNSWL's RFC 5782 test entry answers 127.0.10.0: category 10, trust none
    Zone(
        "list.dnswl.org",
        ip4=(
            "127.0.0.2 :127.0.10.0:test",
            f"198.51.100.90 :127.0.15.1:{DNSWL_TXT}",
            "198.51.100.91 :127.0.0.255:blocked",
        ),
    ),
    Zone("rep.mailspike.net", ip4=("127.0.0.2 :127.0.0.2:test", "198.51.100.97 :127.0.0.10:L5")),
    Zone("bl.score.senderscore.com", ip4=(TEST_V4, "198.51.100.96 :127.0.0.1:botnet")),
    Zone("bl.spamcop.net", ip4=(TEST_V4, "198.51.100.97")),
    Zone("psbl.surriel.com", ip4=(TEST_V4, "198.51.100.98")),
    Zone(
        "bl.ipv6.spameatingmonkey.net",
        ip6=("::ffff:7f00:2 :127.0.0.2:test", "2001:db8::96 :127.0.0.2:SEM"),
    ),
    Zone(
        "dbl.spamhaus.org", generic=("dbltest.com A 127.0.1.2", "redirector.example A 127.0.1.103")
    ),
    Zone(
        "multi.surbl.org",
        generic=("test.surbl.org A 127.0.0.254", "tracker.example A 127.0.0.36"),
    ),
    Zone(
        "multi.uribl.com",
        generic=(
            "test.uribl.com A 127.0.0.14",
            "newly.example A 127.0.0.12",
            "refused.example A 127.0.0.3",
        ),
    ),
]


@pytest.fixture(scope="module")
def world() -> Iterator[DnsWorld]:
    require_tool("rbldnsd")
    require_tool("unbound")
    with DnsWorld(ZONES) as w:
        yield w


def check(world: DnsWorld, *args: str) -> Run:
    return check_dnsbl("-n", world.resolver, "--query-timeout", "0.5", *args)


# --- 1. allowlists are never listings --------------------------------------------


def test_an_allowlisted_address_is_good_news(world: DnsWorld) -> None:
    r = check(world, "-H", "198.51.100.90", "-s", "list.dnswl.org")
    assert (r.returncode, r.first_line) == (
        0,
        "DNSBL OK - 198.51.100.90 on list.dnswl.org: trusted (low)",
    )
    assert r.long_output == [
        "198.51.100.90 on list.dnswl.org (allowlist, never a listing): 127.0.15.1 trusted "
        "(low): category 15: email marketing providers; trust low: reduce the chance of false "
        f'positives; reason: "{DNSWL_TXT}"; lookup: https://www.dnswl.org/'
    ]
    assert r.perfdata["listed"] == "0;0;1;0;0"


def test_an_allowlist_beside_a_blocklist_counts_only_the_blocklist(world: DnsWorld) -> None:
    r = check(
        world, "-vvv", "-H", "198.51.100.90", "-s", "zen.spamhaus.org", "-s", "list.dnswl.org"
    )
    assert (r.returncode, r.first_line) == (
        0,
        "DNSBL OK - 198.51.100.90 not listed on 1 list; on list.dnswl.org: trusted (low)",
    )
    assert r.perfdata["listed"] == "0;0;1;0;1"
    # DNSWL's test entry 127.0.0.2 answers 127.0.10.0: an entry, so the self-test passes
    assert "self-test list.dnswl.org: 127.0.0.2 rated, 127.0.0.1 not listed" in r.long_output
    r = check(world, "-v", "-H", "192.0.2.1", "-s", "zen.spamhaus.org", "-s", "list.dnswl.org")
    assert (r.returncode, r.first_line) == (0, "DNSBL OK - 192.0.2.1 not listed on 1 list")
    assert (
        "list.dnswl.org: 192.0.2.1 not listed (allowlist: no entry, which is neither good nor "
        "bad news)"
    ) in r.long_output


def test_a_trusted_entry_is_never_a_new_listing(world: DnsWorld, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    args = ("-H", "198.51.100.90", "-s", "list.dnswl.org", "--state-file", str(state))
    r = check(world, *args)
    assert (r.returncode, r.first_line) == (
        0,
        "DNSBL OK - 198.51.100.90 on list.dnswl.org: trusted (low)",
    )
    assert r.value("new") == "0"
    assert json.loads(state.read_text())["listed"] == {}


def test_a_bad_reputation_entry_is_shown_never_raising(world: DnsWorld) -> None:
    r = check(world, "-H", "198.51.100.97", "-s", "rep.mailspike.net", "-s", "bl.spamcop.net")
    assert (r.returncode, r.first_line) == (
        1,  # the SpamCop listing, not the reputation zone
        "DNSBL WARNING - 198.51.100.97 listed on 1 of 1 list: bl.spamcop.net; on "
        "rep.mailspike.net: reputation L5 (worst)",
    )
    assert r.perfdata["listed"] == "1;0;1;0;1"


def test_a_blocked_allowlist_is_unusable_with_its_reason(world: DnsWorld) -> None:
    r = check(world, "-H", "198.51.100.91", "-s", "list.dnswl.org", "-s", "bl.spamcop.net")
    assert (r.returncode, r.first_line) == (
        1,
        "DNSBL WARNING - 198.51.100.91 not listed on 1 list; 1 unusable: list.dnswl.org "
        "(rate limited: DNSWL blocked this resolver)",
    )


# --- 2. severity per return code ------------------------------------------------


def test_an_abused_redirector_on_dbl_is_info(world: DnsWorld) -> None:
    r = check(world, "-d", "redirector.example", "-s", "dbl.spamhaus.org")
    assert (r.returncode, r.first_line) == (
        0,
        "DNSBL OK - redirector.example listed on 1 of 1 list: dbl.spamhaus.org "
        "(abused redirector, info)",
    )
    assert r.perfdata["listed"] == "0;0;1;0;1"


def test_uribl_red_and_grey_are_info_and_bit_1_is_a_refusal(world: DnsWorld) -> None:
    r = check(world, "-d", "newly.example", "-s", "multi.uribl.com")
    assert (r.returncode, r.first_line) == (
        0,
        "DNSBL OK - newly.example listed on 1 of 1 list: multi.uribl.com (grey+red, info)",
    )
    r = check(world, "-d", "refused.example", "-s", "multi.uribl.com", "-s", "dbl.spamhaus.org")
    assert (r.returncode, r.first_line) == (
        1,
        "DNSBL WARNING - refused.example not listed on 1 of 2 lists; 1 unusable: "
        "multi.uribl.com (query refused)",
    )


def test_surbl_dm_and_ct_are_info(world: DnsWorld) -> None:
    r = check(world, "-d", "tracker.example", "-s", "multi.surbl.org")
    assert (r.returncode, r.first_line) == (
        0,
        "DNSBL OK - tracker.example listed on 1 of 1 list: multi.surbl.org (DM+CT, info)",
    )


def test_pbl_is_critical_and_mailspike_l2_is_info(world: DnsWorld) -> None:
    r = check(world, "-H", "198.51.100.95", "-s", "zen.spamhaus.org", "-s", "bl.mailspike.net")
    assert (r.returncode, r.first_line) == (
        2,
        "DNSBL CRITICAL - 198.51.100.95 listed on 2 of 2 lists: zen.spamhaus.org (PBL), "
        "bl.mailspike.net (L2, info)",
    )
    assert r.perfdata["listed"] == "1;0;1;0;2"  # the PBL listing; L2 does not count
    assert r.long_output[0].startswith(
        "198.51.100.95 listed on zen.spamhaus.org: 127.0.0.10 PBL: Policy Block List "
        "(ISP-maintained): should not send mail directly to MX; critical for a mail server's "
        "own outbound address, since receivers that use zen reject its mail; "
    )


def test_reserved_and_undocumented_zen_codes_are_listings(world: DnsWorld) -> None:
    r = check(world, "-H", "198.51.100.92", "-s", "zen.spamhaus.org")
    assert (r.returncode, r.first_line) == (
        2,
        "DNSBL CRITICAL - 198.51.100.92 listed on 1 of 1 list: zen.spamhaus.org (XBL)",
    )
    r = check(world, "-H", "198.51.100.93", "-s", "zen.spamhaus.org")
    assert (r.returncode, r.first_line) == (
        2,
        "DNSBL CRITICAL - 198.51.100.93 listed on 1 of 1 list: zen.spamhaus.org "
        "(127.0.0.8 unknown code)",
    )


# --- 3. explicit codes beat the generic rules; rate limiting ------------------------


def test_senderscore_lists_with_127_0_0_1(world: DnsWorld) -> None:
    r = check(world, "-H", "198.51.100.96", "-s", "bl.score.senderscore.com")
    assert (r.returncode, r.first_line) == (
        1,
        "DNSBL WARNING - 198.51.100.96 listed on 1 of 1 list: bl.score.senderscore.com (botnet)",
    )
    assert r.long_output[0].startswith(
        "198.51.100.96 listed on bl.score.senderscore.com: 127.0.0.1 botnet: botnet sending "
        'behaviour; reason: "botnet"; '
    )


def test_a_rate_limited_answer_says_what_to_do(world: DnsWorld) -> None:
    r = check(world, "-H", "198.51.100.94", "-s", "zen.spamhaus.org", "-s", "bl.spamcop.net")
    assert (r.returncode, r.first_line) == (
        1,
        "DNSBL WARNING - 198.51.100.94 not listed on 1 of 2 lists; 1 unusable: "
        "zen.spamhaus.org (rate limited: excessive number of queries from this resolver)",
    )
    assert r.long_output == [
        "zen.spamhaus.org unusable for 198.51.100.94: rate limited: excessive number of "
        "queries from this resolver (what to do: query less often or fewer addresses; use a "
        "resolver of your own, not one shared with others; or a Spamhaus DQS key; see "
        "https://www.spamhaus.org/returnc/vol/) (127.255.255.255)"
    ]


def test_an_ipv6_only_list_is_not_applicable_to_ipv4(world: DnsWorld) -> None:
    zone = "bl.ipv6.spameatingmonkey.net"
    r = check(world, "-v", "-H", "198.51.100.97", "-H", "2001:db8::96", "-s", zone)
    assert (r.returncode, r.first_line) == (
        1,
        f"DNSBL WARNING - 1 of 2 addresses listed: 2001:db8::96 on {zone} (127.0.0.2)",
    )
    assert f"{zone}: 198.51.100.97 not applicable (list has IPv6 data only)" in r.long_output


# --- 6. the thresholded perfdata is the count the state comes from ------------------


@pytest.mark.parametrize(
    ("thresholds", "state", "listed"),
    [
        ((), 1, "1;0;1;0;2"),
        (("-w", "2"), 0, "1;1;1;0;2"),
        (("-w", "2", "-c", "3"), 0, "1;1;2;0;2"),
    ],
)
def test_two_addresses_each_on_one_list(
    world: DnsWorld, thresholds: tuple[str, ...], state: int, listed: str
) -> None:
    lists = ("-s", "bl.spamcop.net", "-s", "psbl.surriel.com")
    r = check(world, "-H", "198.51.100.97", "-H", "198.51.100.98", *lists, *thresholds)
    assert r.returncode == state, r.stdout
    assert r.first_line.endswith(
        " - 2 of 2 addresses listed: 198.51.100.97 on bl.spamcop.net; "
        "198.51.100.98 on psbl.surriel.com"
    )
    assert (r.perfdata["listed"], r.perfdata["listed_total"]) == (listed, "2;;;0;4")
