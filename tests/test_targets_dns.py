"""Every target a mail admin has, against real rbldnsd + unbound: networks,
MX hosts, domains on domain lists, Spamhaus DQS keys, outbound discovery."""

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Run, check_dnsbl
from tests.dnsworld import DnsWorld, Zone, require_tool

TEST_V4 = "127.0.0.2 :127.0.0.2:test"
KEY = "aip7yig6sahg6ehsohn5shco3z"  # the example key format from Spamhaus's README
BAD_KEY = "disabledkey0000000000000000"
ZONES = [
    Zone(
        "zen.spamhaus.org",
        ip4=(TEST_V4, "198.51.100.10 :127.0.0.4:XBL"),
        ip6=("::ffff:7f00:2 :127.0.0.2:test", "2001:db8::25 :127.0.0.3:CSS"),
    ),
    Zone("bl.spamcop.net", ip4=(TEST_V4, "198.51.100.20", "198.51.100.21", "198.51.100.22")),
    Zone(f"{KEY}.zen.dq.spamhaus.net", ip4=(TEST_V4, "198.51.100.10 :127.0.0.4:XBL via DQS")),
    Zone(f"{BAD_KEY}.zen.dq.spamhaus.net", ip4trie=("0.0.0.0/0 :127.255.255.250:key disabled",)),
    Zone(
        "dbl.spamhaus.org",
        generic=(
            "dbltest.com A 127.0.1.2",
            "spammer.example A 127.0.1.2",
            'spammer.example TXT "https://www.spamhaus.org/query/domain/spammer.example"',
            "phisher.example A 127.0.1.4",
            "ipquery.example A 127.0.1.255",
            "foo.github.io A 127.0.1.2",  # a customer's own name under a private suffix
            "xn--bcher-kva.de A 127.0.1.2",  # bücher.de
            "strasse.de A 127.0.1.2",  # not straße.de, whatever IDNA 2003 said
        ),
    ),
    Zone(
        "multi.surbl.org",
        generic=(
            "test.surbl.org A 127.0.0.254",
            "phisher.example A 127.0.0.72",
            "refused.example A 127.0.0.1",
        ),
    ),
    Zone(
        "multi.uribl.com",
        generic=(
            "test.uribl.com A 127.0.0.14",
            "grey.example A 127.0.0.4",
            "refused.example A 127.0.0.1",
        ),
    ),
]
HOSTS = {
    "example.test": ("MX 10 mx1.example.test.", "MX 20 mx2.example.test."),
    "mx1.example.test": ("A 198.51.100.10", "AAAA 2001:db8::25"),
    "mx2.example.test": ("A 198.51.100.11", "AAAA 2001:db8::26"),
    "nomail.test": ("MX 0 .",),
    "implicit.test": ("A 198.51.100.10", "AAAA 2001:db8::26"),  # no MX: RFC 5321 §5.1
    "nowhere.test": ('TXT "v=spf1 -all"',),  # no MX, no address
    "halfnull.test": ("MX 0 .", "MX 10 mx2.example.test."),
    "literal.test": ("MX 10 198.51.100.10.", "MX 20 mx2.example.test."),
    "xn--bcher-kva.test": ("MX 10 mx1.xn--bcher-kva.test.",),  # bücher.test
    "mx1.xn--bcher-kva.test": ("A 198.51.100.10",),
}
DOMAIN_LISTS = ("-s", "dbl.spamhaus.org", "-s", "multi.surbl.org", "-s", "multi.uribl.com")
OUTPUTS: list[str] = []  # every output of this module, searched for the key at the end


@pytest.fixture(scope="module")
def world() -> Iterator[DnsWorld]:
    require_tool("rbldnsd")
    require_tool("unbound")
    with DnsWorld(ZONES, hosts=HOSTS) as w:
        yield w


def check(world: DnsWorld, *args: str, env: dict[str, str] | None = None) -> Run:
    run = check_dnsbl("-n", world.resolver, "--query-timeout", "0.5", *args, env=env)
    OUTPUTS.append(run.stdout)
    return run


# --- networks ----------------------------------------------------------------


def test_network_says_how_many_addresses_are_listed(world: DnsWorld) -> None:
    # a burst of 516 queries: allow for a lost packet or two at rbldnsd on a busy machine
    r = check(
        world,
        "-H",
        "198.51.100.0/24",
        "-s",
        "zen.spamhaus.org",
        "-s",
        "bl.spamcop.net",
        "--query-timeout",
        "1",
        "--retries",
        "3",
    )
    assert r.returncode == 2
    assert r.first_line == (
        "DNSBL CRITICAL - 4 of 256 addresses listed: 198.51.100.10 on zen.spamhaus.org (XBL); "
        "198.51.100.20 on bl.spamcop.net; 198.51.100.21 on bl.spamcop.net; "
        "198.51.100.22 on bl.spamcop.net"
    )
    # listed: the worst address's count (what -w/-c judge); listed_total: every listing
    assert (r.value("addresses"), r.value("addresses_listed")) == ("256", "4")
    assert (r.value("listed"), r.value("listed_total")) == ("1", "4")
    assert r.long_output[0].startswith("198.51.100.10 listed on zen.spamhaus.org: 127.0.0.4")
    assert [line.split()[0] for line in r.long_output] == [
        "198.51.100.10",
        "198.51.100.20",
        "198.51.100.21",
        "198.51.100.22",
    ]


def test_network_over_the_limit_is_refused(world: DnsWorld) -> None:
    r = check(world, "-H", "198.51.100.0/23")
    assert (r.returncode, len(r.lines)) == (3, 1)
    assert r.first_line == (
        "DNSBL UNKNOWN - 198.51.100.0/23 has 512 addresses; the limit is 256 "
        "(--max-addresses, at most 4096) (see --help)"
    )
    assert check(world, "-H", "198.51.100.0/23", "--max-addresses", "5000").first_line == (
        "DNSBL UNKNOWN - --max-addresses is at most 4096 (see --help)"
    )


def test_unusable_list_is_said_once_for_a_network(world: DnsWorld) -> None:
    r = check(world, "-H", "192.0.2.0/30", "-s", "zen.spamhaus.org", "-s", "dnsbl.sorbs.net")
    assert r.returncode == 1
    assert r.long_output == [
        "dnsbl.sorbs.net unusable for all 4 addresses: dead list: SORBS was shut down on "
        "5 June 2024; remove it"
    ]


# --- MX ------------------------------------------------------------------------


def test_mx_checks_every_address_of_every_mx_host(world: DnsWorld) -> None:
    r = check(world, "--mx", "example.test", "-s", "zen.spamhaus.org")
    assert r.returncode == 2
    assert r.first_line == (
        "DNSBL CRITICAL - 2 of 4 addresses listed: 198.51.100.10 (mx1.example.test, MX of "
        "example.test) on zen.spamhaus.org (XBL); 2001:db8::25 (mx1.example.test, MX of "
        "example.test) on zen.spamhaus.org (CSS)"
    )
    assert (r.value("addresses"), r.value("addresses_listed")) == ("4", "2")


@pytest.mark.parametrize(
    ("args", "code", "first_line"),
    [
        (["--mx", "nomail.test"], 3,
         "DNSBL UNKNOWN - nomail.test has a null MX (RFC 7505): it receives no mail"),
        # RFC 5321 §5.1: no MX record, the name's own addresses are its implicit MX
        (["--mx", "implicit.test"], 2,
         "DNSBL CRITICAL - 1 of 2 addresses listed: 198.51.100.10 (implicit.test, implicit MX: "
         "no MX record) on zen.spamhaus.org (XBL)"),
        (["--mx", "nowhere.test"], 3,
         "DNSBL UNKNOWN - cannot resolve the implicit MX of nowhere.test (it has no MX record): "
         "no record"),
        (["--mx", "gone.test"], 3, "DNSBL UNKNOWN - cannot resolve MX of gone.test: no such name"),
        # a misconfiguration is a line of its own; mx2.example.test's 2 addresses are checked
        (["--mx", "halfnull.test"], 1,
         "DNSBL WARNING - 2 addresses not listed on 1 list; halfnull.test has a null MX "
         "(RFC 7505) beside other MX records: a null MX must stand alone"),
        (["--mx", "literal.test"], 1,
         "DNSBL WARNING - 2 addresses not listed on 1 list; the MX 198.51.100.10 of literal.test "
         "is an IP address, not a host name (RFC 5321 §5.1): mail servers do not deliver to it; "
         "check it with -H 198.51.100.10"),
        # IDNs: resolved as A-labels, shown as given
        (["--mx", "bücher.test"], 2,
         "DNSBL CRITICAL - 198.51.100.10 (mx1.xn--bcher-kva.test, MX of bücher.test) listed on 1 "
         "of 1 list: zen.spamhaus.org (XBL)"),
        (["-H", "MX1.Bücher.test"], 2,
         "DNSBL CRITICAL - 198.51.100.10 (mx1.bücher.test) listed on 1 of 1 list: "
         "zen.spamhaus.org (XBL)"),
    ],
)  # fmt: skip
def test_mx_as_rfc_5321_and_7505_define_it(
    world: DnsWorld, args: list[str], code: int, first_line: str
) -> None:
    r = check(world, *args, "-s", "zen.spamhaus.org")
    assert (r.returncode, r.first_line) == (code, first_line)


# --- domains -------------------------------------------------------------------


def test_name_under_a_private_suffix_is_judged_as_its_own(world: DnsWorld) -> None:
    """github.io is a suffix (the list's private section): each customer is a
    registrant, and the list has foo.github.io, not github.io."""
    r = check(world, "-d", "www.foo.github.io", *DOMAIN_LISTS)
    assert (r.returncode, r.first_line) == (
        2,
        "DNSBL CRITICAL - foo.github.io (www.foo.github.io) listed on 1 of 3 lists: "
        "dbl.spamhaus.org (spam)",
    )
    r = check(world, "-d", "bar.github.io", *DOMAIN_LISTS)
    assert (r.returncode, r.first_line) == (0, "DNSBL OK - bar.github.io not listed on 3 lists")


def test_idn_domain_is_asked_as_its_a_label(world: DnsWorld) -> None:
    r = check(world, "-d", "www.Bücher.de", *DOMAIN_LISTS)
    assert (r.returncode, r.first_line) == (
        2,
        "DNSBL CRITICAL - xn--bcher-kva.de (www.bücher.de) listed on 1 of 3 lists: "
        "dbl.spamhaus.org (spam)",
    )
    # IDNA 2008: straße.de is not strasse.de (IDNA 2003, dnspython 2.3's default)
    r = check(world, "-d", "straße.de", *DOMAIN_LISTS)
    assert (r.returncode, r.first_line) == (
        0,
        "DNSBL OK - xn--strae-oqa.de (straße.de) not listed on 3 lists",
    )
    assert check(world, "-d", "strasse.de", *DOMAIN_LISTS).returncode == 2


def test_clean_domain_on_every_domain_list(world: DnsWorld) -> None:
    r = check(world, "-d", "mail.clean.example")
    assert (r.returncode, r.first_line) == (
        0,
        "DNSBL OK - clean.example (mail.clean.example) not listed on 3 lists",
    )


def test_listed_domain_with_reason_and_url(world: DnsWorld) -> None:
    r = check(world, "-d", "spammer.example", *DOMAIN_LISTS)
    assert r.returncode == 2
    assert r.first_line == (
        "DNSBL CRITICAL - spammer.example listed on 1 of 3 lists: dbl.spamhaus.org (spam)"
    )
    assert r.long_output == [
        "spammer.example listed on dbl.spamhaus.org: 127.0.1.2 spam: low-reputation domain "
        '(spam); reason: "https://www.spamhaus.org/query/domain/spammer.example"; '
        "lookup/delist: https://check.spamhaus.org/results/?query=spammer.example"
    ]


def test_bitmask_is_decoded_into_words(world: DnsWorld) -> None:
    r = check(world, "-d", "phisher.example", *DOMAIN_LISTS)
    assert r.first_line == (
        "DNSBL CRITICAL - phisher.example listed on 2 of 3 lists: dbl.spamhaus.org (phish), "
        "multi.surbl.org (PH+ABUSE)"
    )
    assert (
        "phisher.example listed on multi.surbl.org: 127.0.0.72 PH+ABUSE: phishing; spam "
        "and other abuse; lookup/delist: https://surbl.org/" in r.long_output
    )
    r = check(world, "-d", "grey.example", "-s", "multi.uribl.com")
    assert (r.returncode, r.first_line) == (  # grey is an info code: shown, never raising
        0,
        "DNSBL OK - grey.example listed on 1 of 1 list: multi.uribl.com (grey, info)",
    )


@pytest.mark.parametrize(
    ("domain", "zone", "reason"),
    [
        (
            "refused.example",
            "multi.surbl.org",
            "query refused: blocked by SURBL (over the free limit, or a public resolver) "
            "(127.0.0.1)",
        ),
        (
            "refused.example",
            "multi.uribl.com",
            "query refused (see https://uribl.com/refused.shtml) (127.0.0.1)",
        ),
        (
            "ipquery.example",
            "dbl.spamhaus.org",
            "query refused: IP queries are not allowed on DBL (127.0.1.255)",
        ),
    ],
)
def test_refused_answers_are_unusable(
    world: DnsWorld, domain: str, zone: str, reason: str
) -> None:
    r = check(world, "-d", domain, "-s", zone)
    assert r.returncode == 3  # the only list gave no usable answer
    assert r.long_output == [f"{zone} unusable for {domain}: {reason}"]


def test_domain_list_self_test(world: DnsWorld, tmp_path: Path) -> None:
    """SURBL passes on its test point; a domain list missing "test" fails."""
    lists = tmp_path / "lists.toml"
    lists.write_text('[[list]]\nzone = "bl.spamcop.net"\nkind = "domain"\n')
    r = check(
        world,
        "-v",
        "-d",
        "clean.example",
        "-s",
        "multi.surbl.org",
        "-s",
        "bl.spamcop.net",
        "--lists-file",
        str(lists),
    )
    assert r.returncode == 1, r.stdout
    assert "multi.surbl.org: clean.example not listed" in r.long_output
    assert (
        "bl.spamcop.net unusable for clean.example: self-test failed: test entry test is not "
        "listed: list empty, dead or refusing this resolver"
    ) in r.long_output


def test_ip_lists_are_never_asked_about_domains(world: DnsWorld) -> None:
    r = check(world, "-d", "spammer.example", "-s", "zen.spamhaus.org")
    assert (r.returncode, r.first_line) == (
        3,
        "DNSBL UNKNOWN - no list of kind 'domain' to ask about domains (-d): add one with -s "
        "(see --help)",
    )
    r = check(
        world,
        "-H",
        "198.51.100.10",
        "-d",
        "spammer.example",
        "-s",
        "zen.spamhaus.org",
        *DOMAIN_LISTS,
    )
    assert r.first_line.startswith(
        "DNSBL CRITICAL - 2 of 2 targets listed: 198.51.100.10 on "
        "zen.spamhaus.org (XBL); spammer.example on dbl.spamhaus.org"
    )
    assert r.value("addresses") == "1" and r.value("domains") == "1"


# --- Spamhaus DQS --------------------------------------------------------------


def test_dqs_key_from_environment_rewrites_the_zone(world: DnsWorld) -> None:
    r = check(
        world, "-H", "198.51.100.10", "-s", "zen.spamhaus.org", "-vv", env={"DNSBL_DQS_KEY": KEY}
    )
    assert r.returncode == 2
    assert r.first_line == (
        "DNSBL CRITICAL - 198.51.100.10 listed on 1 of 1 list: zen.spamhaus.org (DQS) (XBL)"
    )
    assert 'reason: "XBL via DQS"' in r.long_output[0]


def test_dqs_key_from_file_and_disabled_key(world: DnsWorld, tmp_path: Path) -> None:
    keyfile = tmp_path / "dqs.key"
    keyfile.write_text(BAD_KEY + "\n")
    r = check(
        world,
        "-H",
        "192.0.2.1",
        "-s",
        "zen.spamhaus.org",
        "-s",
        "bl.spamcop.net",
        "--dqs-key-file",
        str(keyfile),
    )
    assert r.returncode == 1
    assert r.first_line == (
        "DNSBL WARNING - 192.0.2.1 not listed on 1 of 2 lists; 1 unusable: "
        "zen.spamhaus.org (DQS) (Spamhaus DQS key disabled)"
    )
    assert BAD_KEY not in r.stdout


def test_keyed_list_without_its_key_is_unusable(world: DnsWorld) -> None:
    r = check(
        world, "-H", "198.51.100.10", "-s", "zen.spamhaus.org", "-s", "combined.mail.abusix.zone"
    )
    assert r.returncode == 2
    assert r.long_output[-1] == (
        "combined.mail.abusix.zone unusable for 198.51.100.10: needs a key: Abusix Mail "
        "Intelligence (--abusix-key-file or DNSBL_ABUSIX_KEY)"
    )


def test_bad_key_file_messages_never_show_the_key(world: DnsWorld, tmp_path: Path) -> None:
    keyfile = tmp_path / "dqs.key"
    keyfile.write_text(f"{KEY}; rm -rf /\n")
    r = check(world, "-H", "192.0.2.1", "--dqs-key-file", str(keyfile))
    assert r.first_line == (
        f"DNSBL UNKNOWN - the Spamhaus DQS key in --dqs-key-file {keyfile} is not 8-64 "
        "letters and digits (see --help)"
    )
    r = check(world, "-H", "192.0.2.1", "--dqs-key-file", str(tmp_path / "missing"))
    assert "cannot read --dqs-key-file" in r.first_line


# --- outbound discovery ----------------------------------------------------------


def discovery_world(opendns: str, google: str) -> DnsWorld:
    return DnsWorld(
        [
            Zone("myip.opendns.com", generic=(f"@ A {opendns}",)),
            Zone("o-o.myaddr.l.google.com", generic=(f'@ TXT "{google}"',)),
        ]
    )


def vias(world: DnsWorld) -> tuple[str, ...]:
    return (
        "--outbound-via",
        f"opendns={world.rbldnsd}",
        "--outbound-via",
        f"google={world.rbldnsd}",
    )


def test_outbound_discovery_agreeing(world: DnsWorld) -> None:
    with discovery_world("198.51.100.10", "198.51.100.10") as disco:
        r = check(world, "-H", "outbound", *vias(disco), "-s", "zen.spamhaus.org")
    assert r.returncode == 2
    assert r.first_line == (
        "DNSBL CRITICAL - 198.51.100.10 (outbound) listed on 1 of 1 list: zen.spamhaus.org (XBL)"
    )


def test_outbound_discovery_disagreeing_checks_both(world: DnsWorld) -> None:
    with discovery_world("198.51.100.10", "192.0.2.1") as disco:
        r = check(world, "--outbound", *vias(disco), "-s", "zen.spamhaus.org")
    assert r.returncode == 2
    assert r.long_output[0] == (
        "outbound IPv4 discovery disagrees: opendns says 198.51.100.10, google says 192.0.2.1; "
        "checking each"
    )
    assert r.first_line == (
        "DNSBL CRITICAL - 1 of 2 addresses listed: 198.51.100.10 (outbound per opendns) on "
        "zen.spamhaus.org (XBL)"
    )


def test_outbound_discovery_failing_is_unknown(world: DnsWorld) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = check(
        world,
        "--outbound",
        "--outbound-via",
        f"opendns=127.0.0.1:{port}",
        "--outbound-via",
        f"google=127.0.0.1:{port}",
        "-s",
        "zen.spamhaus.org",
    )
    assert r.returncode == 3
    assert r.first_line == (
        f"DNSBL UNKNOWN - outbound discovery failed: opendns (127.0.0.1:{port}): resolver "
        f"127.0.0.1:{port} unreachable (Connection refused); google (127.0.0.1:"
        f"{port}): resolver 127.0.0.1:{port} unreachable (Connection refused)"
    )


def test_the_key_never_appears_in_any_output() -> None:
    """Runs last in this module: every output above, searched for both keys."""
    assert len(OUTPUTS) > 15
    for output in OUTPUTS:
        assert KEY not in output.lower() and BAD_KEY not in output.lower()
    assert os.environ.get("DNSBL_DQS_KEY") is None
