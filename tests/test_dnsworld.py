"""The DNS test harness itself, checked with dig: a real, independent client.

If these fail, every plugin test built on ``DnsWorld`` would be testing the
harness instead of the plugin.
"""

import ipaddress
import os
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.dnsworld import DnsWorld, DnsWorldError, Relay, Zone, require_tool

ZEN = Zone(
    "zen.spamhaus.org",
    ip4=("127.0.0.2 :127.0.0.2:test entry", "198.51.100.10 :127.0.0.4:Listed in XBL"),
)
V6 = Zone(
    "v6.example.test",
    ip6=("::ffff:7f00:2 :127.0.0.2:test", "2001:db8::10 :127.0.0.2:listed"),
)
HOSTS = {
    "mail.example.test": ["A 198.51.100.10", "AAAA 2001:db8::10"],
    "example.test": ["MX 10 mail.example.test.", 'TXT "v=spf1 -all"'],
}


def nibbles(address: str) -> str:
    """The 32-nibble query label sequence of an IPv6 address."""
    return ".".join(reversed(ipaddress.IPv6Address(address).exploded.replace(":", "")))


def dig(server: str, name: str, qtype: str = "A", time_s: int = 2) -> tuple[str, list[str]]:
    """(status, answer rdata) from dig; status "TIMEOUT" when nothing answered."""
    host, port = server.rsplit(":", 1)
    argv = [require_tool("dig"), f"@{host}", "-p", port, "+tries=1", f"+time={time_s}"]
    argv += ["+noall", "+comments", "+answer", name, qtype]
    # check=False: dig exits 9 when nothing answers, which tests assert on.
    run = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=time_s + 5)
    out = run.stdout
    status = "TIMEOUT"
    answers = []
    for line in out.splitlines():
        if "->>HEADER<<-" in line:
            status = line.split("status: ", 1)[1].split(",", 1)[0]
        elif line and not line.startswith(";"):
            fields = line.split(None, 4)  # name ttl class type rdata
            if fields[3] == qtype:
                answers.append(fields[4].strip('"'))
    return status, answers


@pytest.fixture
def world() -> Iterator[DnsWorld]:
    zones = [
        ZEN,
        V6,
        Zone("all.example.test", ip4=("0-255",)),  # ip4set spelling of 0/0
        Zone("parked.example.test", ip4trie=("0/0 :198.51.100.80:",)),
        Zone("error.example.test", ip4=("0-255 :127.255.255.254:query refused",)),
        Zone("dbl.example.test", generic=("dbltest.com A 127.0.1.2",)),
    ]
    with DnsWorld(zones, hosts=HOSTS) as w:
        yield w


def test_listed_ipv4_answers_a_and_txt(world: DnsWorld) -> None:
    assert dig(world.resolver, "2.0.0.127.zen.spamhaus.org") == ("NOERROR", ["127.0.0.2"])
    assert dig(world.resolver, "2.0.0.127.zen.spamhaus.org", "TXT") == (
        "NOERROR",
        ["test entry"],
    )
    assert dig(world.resolver, "10.100.51.198.zen.spamhaus.org") == ("NOERROR", ["127.0.0.4"])
    assert dig(world.resolver, "10.100.51.198.zen.spamhaus.org", "TXT")[1] == ["Listed in XBL"]


def test_unlisted_ipv4_is_nxdomain(world: DnsWorld) -> None:
    assert dig(world.resolver, "3.0.0.127.zen.spamhaus.org") == ("NXDOMAIN", [])
    assert dig(world.resolver, "3.0.0.127.zen.spamhaus.org", "TXT") == ("NXDOMAIN", [])


def test_rbldnsd_answers_directly(world: DnsWorld) -> None:
    assert dig(world.rbldnsd, "2.0.0.127.zen.spamhaus.org") == ("NOERROR", ["127.0.0.2"])


def test_ipv6_entries_answer_by_nibble_name(world: DnsWorld) -> None:
    name = nibbles("::ffff:7f00:2") + ".v6.example.test"
    assert name.startswith("2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.")
    assert dig(world.resolver, name) == ("NOERROR", ["127.0.0.2"])
    assert dig(world.resolver, name, "TXT") == ("NOERROR", ["test"])
    assert dig(world.resolver, nibbles("2001:db8::10") + ".v6.example.test") == (
        "NOERROR",
        ["127.0.0.2"],
    )
    assert dig(world.resolver, nibbles("2001:db8::11") + ".v6.example.test")[0] == "NXDOMAIN"


def test_wildcard_zone_lists_everything(world: DnsWorld) -> None:
    assert dig(world.resolver, "1.0.0.127.all.example.test") == ("NOERROR", ["127.0.0.2"])
    assert dig(world.resolver, "80.100.51.198.all.example.test") == ("NOERROR", ["127.0.0.2"])


def test_parked_zone_answers_non_127_for_every_address(world: DnsWorld) -> None:
    for name in ("1.0.0.127", "2.0.0.127", "10.100.51.198", "255.255.255.255"):
        assert dig(world.resolver, f"{name}.parked.example.test") == (
            "NOERROR",
            ["198.51.100.80"],
        )


def test_error_code_zone_answers_127_255_255_254(world: DnsWorld) -> None:
    for name in ("2.0.0.127", "1.0.0.127", "10.100.51.198"):
        assert dig(world.resolver, f"{name}.error.example.test") == (
            "NOERROR",
            ["127.255.255.254"],
        )


def test_domain_list_via_generic_dataset(world: DnsWorld) -> None:
    assert dig(world.resolver, "dbltest.com.dbl.example.test") == ("NOERROR", ["127.0.1.2"])
    assert dig(world.resolver, "example.com.dbl.example.test")[0] == "NXDOMAIN"


def test_hosts_a_aaaa_mx_and_txt(world: DnsWorld) -> None:
    assert dig(world.resolver, "mail.example.test") == ("NOERROR", ["198.51.100.10"])
    assert dig(world.resolver, "mail.example.test", "AAAA") == ("NOERROR", ["2001:db8::10"])
    assert dig(world.resolver, "example.test", "MX") == ("NOERROR", ["10 mail.example.test."])
    assert dig(world.resolver, "example.test", "TXT") == ("NOERROR", ["v=spf1 -all"])
    assert dig(world.resolver, "mail.example.test", "MX") == ("NOERROR", [])  # NODATA


def test_other_names_fail_fast_and_locally(world: DnsWorld) -> None:
    start = time.monotonic()
    assert dig(world.resolver, "www.example.com")[0] == "NXDOMAIN"
    assert dig(world.resolver, "nohost.example.test")[0] == "NXDOMAIN"
    assert time.monotonic() - start < 1.0


def test_rejected_zone_data_is_an_error() -> None:
    """rbldnsd skips ``0/0`` in ip4set with a log line; silence would fake a clean zone."""
    with pytest.raises(DnsWorldError, match="invalid address"):
        DnsWorld([Zone("bad.example.test", ip4=("0.0.0.0/0",))]).start()


FAILING = [
    Zone("dead.example.test", behaviour="drop"),
    Zone("broken.example.test", behaviour="servfail"),
    Zone("refusing.example.test", behaviour="refused"),
    Zone("silent.example.test", behaviour="timeout"),
]


def test_failure_behaviours() -> None:
    timings: dict[str, list[float]] = {}
    with DnsWorld(FAILING) as w:
        for zone, expected in (
            ("dead", "SERVFAIL"),  # first query: unbound times out the server
            ("dead", "SERVFAIL"),  # then it holds the server as down
            ("broken", "SERVFAIL"),
            ("refusing", "REFUSED"),
            ("silent", "TIMEOUT"),
        ):
            start = time.monotonic()
            time_s = 1 if zone == "silent" else 2
            status = dig(w.resolver, f"2.0.0.127.{zone}.example.test", time_s=time_s)[0]
            timings.setdefault(zone, []).append(round(time.monotonic() - start, 3))
            assert status == expected, zone
    assert timings["dead"][0] < 1.5
    assert timings["broken"][0] < 0.5


def test_update_makes_delisting_visible() -> None:
    with DnsWorld([ZEN]) as w:
        name = "2.0.0.127.zen.spamhaus.org"
        assert dig(w.resolver, name) == ("NOERROR", ["127.0.0.2"])
        assert dig(w.resolver, "3.0.0.127.zen.spamhaus.org")[0] == "NXDOMAIN"
        w.update(Zone(ZEN.name, ip4=("127.0.0.3 :127.0.0.10:now listed",)))
        assert dig(w.resolver, name) == ("NXDOMAIN", [])
        assert dig(w.resolver, "3.0.0.127.zen.spamhaus.org") == ("NOERROR", ["127.0.0.10"])
        w.update(Zone(ZEN.name, ip4=("127.0.0.2 :127.0.0.11:back",)))  # twice in one second
        assert dig(w.resolver, name) == ("NOERROR", ["127.0.0.11"])
        w.update(Zone(ZEN.name))  # no IPv4 dataset left: restarts, same ports
        assert dig(w.resolver, name) == ("NXDOMAIN", [])
        w.update(Zone(ZEN.name, behaviour="servfail"))
        assert dig(w.resolver, name)[0] == "SERVFAIL"


def test_stop_leaves_no_daemon() -> None:
    w = DnsWorld([ZEN])
    with w:
        pids = [d.proc.pid for d in w._daemons.values()]
        assert len(pids) == 2
        workdir = w.workdir
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not workdir.exists()


def test_relay_forwards_drops_and_counts() -> None:
    """The benchmark's relay: answers come through it (IDs restored, or dig
    would reject them), "drop" zones end there, garbage is counted and ignored."""
    zones = [ZEN, Zone("dead.example.test", behaviour="drop")]
    with DnsWorld(zones, relay=Relay(delay=0.01), stock_resolver=True) as w:
        before = w.relay_stats()
        assert dig(w.resolver, "2.0.0.127.zen.spamhaus.org") == ("NOERROR", ["127.0.0.2"])
        assert dig(w.resolver, "3.0.0.127.zen.spamhaus.org") == ("NXDOMAIN", [])
        assert dig(w.relay, "2.0.0.127.zen.spamhaus.org") == ("NOERROR", ["127.0.0.2"])
        assert dig(w.relay, "2.0.0.127.dead.example.test", time_s=1)[0] == "TIMEOUT"
        host, port = w.relay.rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for junk in (b"", b"\x12\x34", b"\xff" * 40, b"\x00" * 12 + b"\xc0\x0c"):
                sock.sendto(junk, (host, int(port)))
        w.set_delay(0)
        assert dig(w.relay, "2.0.0.127.zen.spamhaus.org") == ("NOERROR", ["127.0.0.2"])
        after = w.relay_stats()
    counts = {k: after[k] - before[k] for k in before if k != "cpu_ms"}
    assert counts == {
        "received": 9,  # 4 zen queries, 1 dead, 4 junk
        "forwarded": 4,
        "answered": 4,
        "dropped": 1,
        "malformed": 4,
        "unmatched": 0,
    }


def test_rbldnsd_alone() -> None:
    """``resolver=None``: the demo's world, rbldnsd only."""
    needs = "^hosts, a relay and zones that do not serve need the resolver$"
    with DnsWorld([ZEN], resolver=None) as w:
        assert w.resolver == ""
        assert dig(w.rbldnsd, "2.0.0.127.zen.spamhaus.org") == ("NOERROR", ["127.0.0.2"])
        assert [d.name for d in w._daemons.values()] == ["rbldnsd"]
        with pytest.raises(ValueError, match=needs):
            w.update(Zone(ZEN.name, behaviour="servfail"))
        assert dig(w.rbldnsd, "2.0.0.127.zen.spamhaus.org") == ("NOERROR", ["127.0.0.2"])
    with pytest.raises(ValueError, match=needs):
        DnsWorld([ZEN], resolver=None, hosts=HOSTS)
    with pytest.raises(ValueError, match=needs):
        DnsWorld([ZEN], resolver=None, relay=Relay())
    with pytest.raises(ValueError, match=needs):
        DnsWorld(FAILING, resolver=None)
