"""--direct against real DNS: rbldnsd stands as the lists' own server on a
loopback address's port 53, behind an unbound that refuses the list queries
(127.255.255.254 for zen.spamhaus.org, as Spamhaus answers public
resolvers; SERVFAIL for the others) yet answers the NS of each zone and the
address of its server, as any resolver does.

The servers, each on port 53 (real lists answer there, and so the plugin asks there):

- 127.53.11.1 rbldnsd, authoritative for zen.spamhaus.org, all.s5h.net (silent
  through the resolver), dnsbl-1.uceprotect.net (whose first server by name is
  the lame one below), a wildcarded
  bl.spamcop.net and the DQS zone; it REFUSES psbl.surriel.com, which it
  does not serve (the NS record points at it anyway);
- 127.53.11.2 a socket that never answers: bl.mailspike.net's lame server;
- 127.53.11.3 a referral: b.barracudacentral.org's server hands the query on;
- 127.53.11.4 a counting relay in front of 127.53.11.5, an rbldnsd like
  127.53.11.1, for --max-qps.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.rdatatype
import dns.rrset
import pytest

from tests.conftest import Run, check_dnsbl
from tests.dnsworld import DnsWorld, Zone, relay_control, require_tool

#: The servers' network: one per test process, so that two runs at once
#: (CI beside a developer) never fight over an address; the output is read
#: with it written as 127.53.11 (``check``), as the docstring names them.
NET = f"127.53.{11 + os.getpid() % 240}"
AUTH, LAME, REFERRAL, RELAY = (f"{NET}.{host}" for host in range(1, 5))
#: The server behind the relay (a world of its own, beside the module's).
BEHIND = f"{NET}.5"
DQS_KEY = "directtestkey0123456789abc"
DQS_ZONE = f"{DQS_KEY}.zen.dq.spamhaus.net"
TEST_V4 = "127.0.0.2 :127.0.0.2:RFC 5782 test entry"
ZEN_DATA = (TEST_V4, "127.0.0.4 :127.0.0.4:XBL test", "198.51.100.4 :127.0.0.4:XBL")
SERVED = [
    Zone("zen.spamhaus.org", ip4=ZEN_DATA),
    Zone("bl.spamcop.net", ip4trie=("0/0",)),  # lists everything: dead or wildcarded
    Zone(DQS_ZONE, ip4=ZEN_DATA),
    Zone("all.s5h.net", ip4=(TEST_V4, "198.51.100.4 :127.0.0.2:listed")),
    Zone("dnsbl-1.uceprotect.net", ip4=(TEST_V4, "198.51.100.4 :127.0.0.2:listed")),
]
PUBLIC_RESOLVER = "0/0 :127.255.255.254:query via public resolver"
NO_NS, NO_ADDRESS = "nons.direct.test", "noaddr.direct.test"


def ns(zone: str, host: str, address: str) -> dict[str, list[str]]:
    """unbound local data: the zone's NS, and its server's address."""
    return {zone: [f"NS {host}."], host: [f"A {address}"]}


HOSTS = {
    **ns("zen.spamhaus.org", "ns1.zen.direct.test", AUTH),
    **ns("bl.spamcop.net", "ns1.zen.direct.test", AUTH),
    **ns(DQS_ZONE, "ns1.zen.direct.test", AUTH),
    **ns("all.s5h.net", "ns1.zen.direct.test", AUTH),
    **ns("psbl.surriel.com", "ns.refused.direct.test", AUTH),
    **ns("bl.mailspike.net", "ns.lame.direct.test", LAME),
    **ns("b.barracudacentral.org", "ns.referral.direct.test", REFERRAL),
    # two servers: the lame one first by name, then one that answers
    "dnsbl-1.uceprotect.net": ["NS ns.lame.direct.test.", "NS ns1.zen.direct.test."],
    # no servers to be found: no NS records, or an NS name without an address
    NO_NS: ["A 127.0.0.9"],
    NO_ADDRESS: ["NS ns.noaddr.direct.test."],
}
REFUSING = [
    Zone("zen.spamhaus.org", ip4trie=(PUBLIC_RESOLVER,)),
    Zone(DQS_ZONE, ip4trie=(PUBLIC_RESOLVER,)),
    Zone("all.s5h.net"),  # silent: NXDOMAIN for all, its test entry too
    *(
        Zone(z, behaviour="servfail")
        for z in (
            "bl.spamcop.net",
            "psbl.surriel.com",
            "bl.mailspike.net",
            "dnsbl-1.uceprotect.net",
        )
    ),
    Zone("b.barracudacentral.org", behaviour="servfail"),
    Zone(NO_NS, behaviour="servfail"),
    Zone(NO_ADDRESS, behaviour="servfail"),
]


def _referrals(sock: socket.socket) -> None:
    """Answer every query with a referral: NOERROR, no AA, NS in authority."""
    while True:
        try:
            data, peer = sock.recvfrom(4096)
        except OSError:
            return
        query = dns.message.from_wire(data)
        reply = dns.message.make_response(query)
        reply.flags &= ~dns.flags.AA
        zone = "b.barracudacentral.org."
        reply.authority.append(dns.rrset.from_text(zone, 60, "IN", "NS", "ns.elsewhere.test."))
        sock.sendto(reply.to_wire(), peer)


@pytest.fixture(scope="module")
def world() -> Iterator[DnsWorld]:
    require_tool("rbldnsd")
    require_tool("unbound")
    if os.geteuid() != 0:
        msg = "--direct tests bind port 53 on loopback addresses: root only"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    lame = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    lame.bind((LAME, 53))  # bound, never read: a server that never answers
    referral = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    referral.bind((REFERRAL, 53))
    threading.Thread(target=_referrals, args=(referral,), daemon=True).start()
    auth = DnsWorld(SERVED, resolver=None, rbldnsd=f"{AUTH}:53")
    resolver = DnsWorld(REFUSING, hosts=HOSTS)
    try:
        with auth, resolver:
            yield resolver
    finally:
        lame.close()
        referral.close()


def check(world: DnsWorld, *args: str, env: dict[str, str] | None = None) -> Run:
    """The plugin's run, its servers' addresses written as in the docstring."""
    r = check_dnsbl("-n", world.resolver, "-t", "8", "--query-timeout", "1", *args, env=env)
    return Run(r.returncode, r.stdout.replace(f"[{NET}.", "[127.53.11."))


def test_without_direct_nothing_changes(world: DnsWorld) -> None:
    r = check(world, "-H", "127.0.0.4", "-s", "zen.spamhaus.org")
    assert (r.returncode, r.first_line) == (
        3,
        "DNSBL UNKNOWN - no usable answer from any list for 127.0.0.4: "
        "query refused: public/open resolver",
    )


def test_zen_behind_a_refusing_resolver_listed_directly(world: DnsWorld) -> None:
    r = check(world, "--direct", "-H", "127.0.0.4", "-s", "zen.spamhaus.org")
    assert (r.returncode, r.first_line) == (
        2,
        "DNSBL CRITICAL - 127.0.0.4 listed on 1 of 1 list: zen.spamhaus.org (XBL) "
        "(asked ns1.zen.direct.test [127.53.11.1] directly)",
    )


def test_zen_behind_a_refusing_resolver_clean_directly(world: DnsWorld) -> None:
    r = check(world, "--direct", "-vvv", "-H", "192.0.2.1", "-s", "zen.spamhaus.org")
    assert (r.returncode, r.first_line) == (
        0,
        "DNSBL OK - 192.0.2.1 not listed on 1 list "
        "(asked ns1.zen.direct.test [127.53.11.1] directly)",
    )
    assert r.long_output == [
        "zen.spamhaus.org: 192.0.2.1 not listed "
        "(asked ns1.zen.direct.test [127.53.11.1] directly)",
        "self-test zen.spamhaus.org: 127.0.0.2 unusable, 127.0.0.1 unusable",
        "self-test zen.spamhaus.org (asked ns1.zen.direct.test [127.53.11.1] directly): "
        "127.0.0.2 listed, 127.0.0.1 not listed",
        # the resolver: 2 test entries, the pair, NS and A; the server: 2 and 1
        f"5 queries sent to {world.resolver}, 3 to the lists' own servers; "
        "0 malformed or mismatched replies ignored",
    ]


def test_direct_asks_only_the_pairs_the_resolver_left_unusable(world: DnsWorld) -> None:
    r = check(
        world, "--direct", "-H", "198.51.100.4", "-s", "zen.spamhaus.org", "-s", "psbl.surriel.com"
    )
    assert (r.returncode, r.first_line) == (
        2,
        "DNSBL CRITICAL - 198.51.100.4 listed on 1 of 2 lists: zen.spamhaus.org (XBL) "
        "(asked ns1.zen.direct.test [127.53.11.1] directly); 1 unusable: psbl.surriel.com "
        "(asked ns.refused.direct.test [127.53.11.1] directly: REFUSED)",
    )
    assert (
        "198.51.100.4 listed on zen.spamhaus.org: 127.0.0.4 XBL: Exploits Block List: infected "
        "or exploited host (botnet, proxy, malware); asked ns1.zen.direct.test [127.53.11.1] "
        'directly; reason: "XBL"; ' in r.long_output[0]
    )
    # a clean answer beside an unusable one names the list it came from
    r = check(
        world, "--direct", "-H", "192.0.2.1", "-s", "zen.spamhaus.org", "-s", "psbl.surriel.com"
    )
    assert (r.returncode, r.first_line) == (
        1,
        "DNSBL WARNING - 192.0.2.1 not listed on 1 of 2 lists; zen.spamhaus.org (asked "
        "ns1.zen.direct.test [127.53.11.1] directly); 1 unusable: psbl.surriel.com "
        "(asked ns.refused.direct.test [127.53.11.1] directly: REFUSED)",
    )


@pytest.mark.parametrize(
    ("zone", "why"),
    [
        ("psbl.surriel.com", "asked ns.refused.direct.test [127.53.11.1] directly: REFUSED"),
        (
            "bl.mailspike.net",
            "asked ns.lame.direct.test [127.53.11.2] directly: no answer, a lame server",
        ),
        (
            "b.barracudacentral.org",
            "asked ns.referral.direct.test [127.53.11.3] directly: a referral, not an answer: "
            "not a server of the zone",
        ),
    ],
    ids=["refused", "lame", "referral"],
)
def test_a_direct_server_that_does_not_answer_is_unusable_with_the_reason(
    world: DnsWorld, zone: str, why: str
) -> None:
    r = check(world, "--direct", "-H", "192.0.2.1", "-s", zone)
    assert (r.returncode, r.first_line) == (
        3,
        f"DNSBL UNKNOWN - no usable answer from any list for 192.0.2.1: {why}",
    )


def test_the_self_test_runs_on_the_direct_path(world: DnsWorld) -> None:
    r = check(world, "--direct", "-H", "192.0.2.1", "-s", "bl.spamcop.net")
    assert (r.returncode, r.first_line) == (
        3,
        "DNSBL UNKNOWN - no usable answer from any list for 192.0.2.1: asked "
        "ns1.zen.direct.test [127.53.11.1] directly: lists the test entry 127.0.0.1 too: "
        "dead or wildcarded list, remove it",
    )


def test_a_keyed_zone_is_never_asked_directly(world: DnsWorld) -> None:
    r = check(
        world,
        "--direct",
        "-H",
        "127.0.0.4",
        "-s",
        "zen.spamhaus.org",
        env={"DNSBL_DQS_KEY": DQS_KEY},
    )
    # the server would list it: asked directly, this would be CRITICAL
    assert (r.returncode, r.first_line) == (
        3,
        "DNSBL UNKNOWN - no usable answer from any list for 127.0.0.4: "
        "query refused: public/open resolver",
    )
    assert "directly" not in r.stdout
    assert DQS_KEY not in r.stdout


def test_direct_queries_keep_to_max_qps() -> None:
    require_tool("rbldnsd")
    if os.geteuid() != 0:
        pytest.skip("binds port 53")
    # a fresh resolver, whose zen NS is the counting relay in front of the server
    hosts = {**HOSTS, **ns("zen.spamhaus.org", "ns.relay.direct.test", RELAY)}
    control = f"{RELAY}:5353"
    relay = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("dnsrelay.py")),
            *("--listen", f"{RELAY}:53", "--upstream", f"{BEHIND}:53", "--control", control),
            *("--delay", "0"),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        with (
            DnsWorld(SERVED, resolver=None, rbldnsd=f"{BEHIND}:53"),
            DnsWorld(REFUSING, hosts=hosts) as resolver,
        ):
            for _ in range(100):  # the relay is up once it answers its control port
                try:
                    relay_control(control, timeout=0.1)
                    break
                except OSError:
                    time.sleep(0.05)
            started = time.monotonic()
            r = check(
                resolver,
                "--direct",
                "--max-qps",
                "5",
                "-H",
                "192.0.2.0/30",
                "-s",
                "zen.spamhaus.org",
            )
            took = time.monotonic() - started
            received = relay_control(control)["received"]
    finally:
        relay.terminate()
        relay.wait(5)
    assert (r.returncode, r.first_line) == (
        0,
        "DNSBL OK - 4 addresses not listed on 1 list "
        "(asked ns.relay.direct.test [127.53.11.4] directly)",
    )
    # 4 addresses and the 2 test entries, asked of the server itself
    assert received == 6
    # the resolver's 6 queries and the 2 that found the server (NS, A) went
    # first, at the same pace: 14 queries at 5 per second
    assert took >= (6 + 2 + received - 1) / 5


def test_a_silent_nxdomain_that_the_self_test_catches_is_asked_directly(world: DnsWorld) -> None:
    plain = check(world, "-H", "198.51.100.4", "-s", "all.s5h.net")
    assert (plain.returncode, plain.first_line) == (
        3,
        "DNSBL UNKNOWN - no usable answer from any list for 198.51.100.4: self-test failed: "
        "test entry 127.0.0.2 is not listed: list empty, dead or refusing this resolver",
    )
    r = check(world, "--direct", "-H", "198.51.100.4", "-s", "all.s5h.net")
    assert (r.returncode, r.first_line) == (
        1,
        "DNSBL WARNING - 198.51.100.4 listed on 1 of 1 list: all.s5h.net (127.0.0.2) "
        "(asked ns1.zen.direct.test [127.53.11.1] directly)",
    )


def test_a_lame_server_costs_no_more_than_the_deadline(world: DnsWorld) -> None:
    started = time.monotonic()
    r = check_dnsbl(
        *("-n", world.resolver, "-t", "3", "--query-timeout", "2", "--retries", "3"),
        *("--direct", "-H", "192.0.2.1", "-s", "bl.mailspike.net"),
    )
    took = time.monotonic() - started
    assert (r.returncode, r.first_line) == (
        3,
        "DNSBL UNKNOWN - no usable answer from any list for 192.0.2.1: "
        f"asked ns.lame.direct.test [{LAME}] directly: no answer, a lame server",
    )
    assert took < 3, f"{took:.2f}s >= -t 3\n{r.stdout}"  # -t counts from the process's start


def test_a_lame_first_server_gives_way_to_the_next(world: DnsWorld) -> None:
    """A zone has several servers: the one that does not answer the
    self-test costs only itself, and the next is asked."""
    r = check(world, "--direct", "-H", "198.51.100.4", "-s", "dnsbl-1.uceprotect.net")
    assert (r.returncode, r.first_line) == (
        1,
        "DNSBL WARNING - 198.51.100.4 listed on 1 of 1 list: dnsbl-1.uceprotect.net "
        "(asked ns1.zen.direct.test [127.53.11.1] directly)",
    )


def test_a_list_whose_servers_cannot_be_found_says_why(world: DnsWorld) -> None:
    """No NS records, or NS names without an address: the list stays
    unusable, the resolver's reason first, then why --direct found no server."""
    r = check(world, "--direct", "-H", "192.0.2.1", "-s", NO_NS, "-s", NO_ADDRESS)
    failed = f"resolver {world.resolver} answered SERVFAIL; --direct: "
    assert (r.returncode, r.first_line) == (
        3,
        f"DNSBL UNKNOWN - no usable answer from any list for 192.0.2.1: {failed}"
        "no servers known: no NS records",
    )
    assert r.long_output == [
        f"{NO_NS} unusable for 192.0.2.1: {failed}no servers known: no NS records (NOERROR)",
        f"{NO_ADDRESS} unusable for 192.0.2.1: {failed}"
        "no address for its servers (ns.noaddr.direct.test)",
    ]


def test_lists_that_fail_alike_with_direct_share_a_line() -> None:
    """The resolver down: no NS can be asked; the reason names no zone, so
    the lists share one line."""
    r = check_dnsbl(
        "-n", "127.0.0.1:9", "-t", "5", "--no-state", "--direct",
        "-H", "192.0.2.1", "-s", "zen.spamhaus.org", "-s", "bl.spamcop.net",
    )  # fmt: skip
    down = "resolver 127.0.0.1:9 unreachable"
    assert (r.returncode, r.first_line) == (
        3,
        f"DNSBL UNKNOWN - no usable answer from any list for 192.0.2.1: {down}",
    )
    assert r.long_output == [
        f"zen.spamhaus.org, bl.spamcop.net unusable for 192.0.2.1: {down} (Connection "
        f"refused); --direct: no servers known: NS query failed: {down} (Connection refused)"
    ]
