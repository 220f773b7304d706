"""Many sites: a real Icinga 2 cluster runs check_dnsbl where the mail leaves.

Four real ``icinga2 daemon``s, each with its own config and data directories
and its own port on 127.0.0.1, TLS with certificates from ``icinga2 pki``:

- the master ``master1.example.com``: icinga/distributed/zones.conf.example,
  the shipped dnsbl.conf, services.conf and notifications.conf in its global
  zone, the hosts of zones.d/master/ and zones.d/site-eu/;
- the agents ``mx1.example.com`` (as shipped) and ``mx3.example.org`` (the same
  Endpoint, Zone and Host with the names and addresses substituted), with
  icinga/distributed/agent/zones.conf.example; the master runs their "dnsbl"
  services on them (command_endpoint);
- the satellite ``satellite-eu.example.com`` of zone site-eu, with
  icinga/distributed/satellite/zones.conf.example: it schedules and runs the
  checks of mx2.example.net itself.

Each site has its own DnsWorld (rbldnsd + unbound), the resolver its host's
``dnsbl_nameserver`` names; the examples are used as shipped, but for
addresses and names. The plugin is this checkout's, through a wrapper in each
node's own PluginContribDir (the master has none): the agents receive the
CheckCommand from the master's global zone, as the README's ``make install``
path has it, and the .deb's own CheckCommand and plugin are proven end to end
in tests/test_icinga.py.

No icinga2 process outlives the test and no port stays bound.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from check_dnsbl.catalog import Catalog
from tests.dnsworld import DnsWorld, Relay, Zone, relay_control, require_tool
from tests.icinga_harness import (
    ICINGA_DIR,
    SHIPPED_CONF,
    FakeClock,
    GraphiteSink,
    Icinga,
    IcingaCa,
    api_listener_conf,
    free_port,
    live_pids,
    perfdata_writer_conf,
    port_listening,
    read_mails,
    wait_for,
    write_fake_sendmail,
    write_plugin_wrapper,
)

pytestmark = pytest.mark.e2e

DIST = ICINGA_DIR / "distributed"
MASTER = "master1.example.com"
SATELLITE = "satellite-eu.example.com"
XBL_REASON = "Listed in XBL, see https://check.spamhaus.org/"
#: Icinga 2 reports a command_endpoint that is not connected only once the
#: master has run this long (its cold-start window, lib/icinga/checkable-check.cpp).
COLD_START = 300
#: What the nodes may log as a warning: peers not started yet, a node that
#: reloads for the config it received or is stopped, the command pipe.
EXPECTED_LOG = (
    r"/ApiListener: Cannot connect to host '127\.0\.0\.1' on port '\d+': Connection refused$"
    r"|/JsonRpcConnection: API client disconnected for identity '[\w.-]+'$"
    r"|/ApiListener: Removing API client for endpoint '[\w.-]+'\. 0 API clients left\.$"
    r"|/ExternalCommandListener: This feature is DEPRECATED"
)


@dataclass
class Site:
    """One mail server's site: its node, its host and its own DnsWorld."""

    node: str
    host: str
    address: str
    world: DnsWorld
    icinga: Icinga | None = None
    port: int = 0

    @property
    def argv_log(self) -> Path:
        assert self.icinga
        return self.icinga.root / "plugin.argv"

    @property
    def state_log(self) -> Path:
        assert self.icinga
        return self.icinga.root / "plugin.state"


def site_zones(listed: dict[str, str] | None = None) -> list[Zone]:
    """The plugin's default IP lists, each with its RFC 5782 test entry;
    ``listed`` maps an address to the zen.spamhaus.org line that lists it."""
    zones = []
    for lst in Catalog.load().defaults("ip"):
        lines = ["127.0.0.2 :127.0.0.2:test"]
        if lst.zone == "zen.spamhaus.org":
            lines += [f"{a} {line}" for a, line in (listed or {}).items()]
        zones.append(Zone(lst.zone, ip4=tuple(lines)))
    return zones


# --------------------------------------------------------- the shipped text


def block(text: str, kind: str, name: str) -> str:
    """``object <kind> "<name>" { ... }`` of an example, up to the ``}`` that
    starts a line (blocks nest dictionaries only indented)."""
    found = re.search(rf'^object {kind} "{re.escape(name)}" \{{\n.*?^\}}\n', text, re.M | re.S)
    assert found, f"no {kind} {name} in the example"
    return found.group(0)


def endpoint_at(text: str, name: str, port: int) -> str:
    """The example's Endpoint ``name`` connecting to 127.0.0.1:``port``."""
    old = block(text, "Endpoint", name)
    new, count = re.subn(r'(?m)^\thost = "[^"]*"\n\tport = "5665"$', "", old)
    assert count == 1, old
    new = new.replace("{\n", f'{{\n\thost = "127.0.0.1"\n\tport = "{port}"', 1)
    return text.replace(old, new)


def renamed(text: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        text = text.replace(old, new)
    return text


def example(path: str) -> str:
    return (DIST / path).read_text(encoding="utf-8")


# ------------------------------------------------------------------ the nodes

NODE_OBJECTS = """
object IcingaApplication "app" {
  /* Only the checks the test forces: the shipped 15m intervals stay, the
   * test decides when. No host checks: hostalive would ping the example's
   * documentation addresses, and nothing here leaves loopback. */
  enable_host_checks = false
  enable_service_checks = false
}
object FileLogger "main-log" {
  severity = "notice"
  path = LogDir + "/icinga2.log"
}
"""


def test_cluster_checks_each_site_where_its_mail_leaves(tmp_path: Path) -> None:
    icinga2 = require_tool("icinga2")
    ca = IcingaCa(tmp_path / "ca", exe=icinga2)
    spool = tmp_path / "mail.spool"
    sendmail = write_fake_sendmail(tmp_path / "sendmail", spool)
    clock = FakeClock(tmp_path / "master.faketime", -(COLD_START + 60))
    leftovers: list[int] = []
    ports: list[int] = []
    with ExitStack() as stack:
        worlds = [stack.enter_context(DnsWorld(site_zones())) for _ in range(3)]
        agents = [
            Site("mx1.example.com", "mx1.example.com", "192.0.2.25", worlds[0]),
            Site("mx3.example.org", "mx3.example.org", "203.0.113.25", worlds[1]),
        ]
        satellite = Site(SATELLITE, "mx2.example.net", "198.51.100.25", worlds[2])
        graphite = stack.enter_context(GraphiteSink())
        master = master_node(tmp_path / MASTER, agents, satellite, sendmail, graphite, clock)
        ports = [master_port(master), *(s.port for s in (*agents, satellite))]
        nodes = [master]
        for site in (*agents, satellite):
            site.icinga = site_node(tmp_path / site.node, site, master_port(master))
            nodes.append(site.icinga)
        for node in nodes:
            ca.issue(node)
            assert_valid(node)
        try:
            _cluster(master, agents, satellite, clock, spool, graphite)
        finally:
            for node in nodes:
                node.stop()
            leftovers = [pid for node in nodes for pid in live_pids(str(node.conf))]
    assert leftovers == [], f"icinga2 processes outlived the test: {leftovers}"
    assert [p for p in ports if port_listening(p)] == []
    print("--- the mails (shown with pytest -s) ---", *read_mails(spool), sep="\n")


def master_port(master: Icinga) -> int:
    found = re.search(r"bind_port = (\d+)", master.conf.read_text(encoding="utf-8"))
    assert found
    return int(found.group(1))


def master_node(
    root: Path,
    agents: list[Site],
    satellite: Site,
    sendmail: Path,
    graphite: GraphiteSink,
    clock: FakeClock,
) -> Icinga:
    """The master: the shipped zones.conf and zones.d, addresses and names substituted."""
    for site in (*agents, satellite):
        site.port = free_port()
    zones = example("zones.conf.example")
    first = agents[0]
    for site in agents[1:]:  # one Endpoint and Zone per agent, as for mx1
        zones += "\n" + renamed(
            block(zones, "Endpoint", first.node) + "\n" + block(zones, "Zone", first.node),
            {first.node: site.node},
        )
    for site in (*agents, satellite):
        zones = endpoint_at(zones, site.node, site.port)
    master = Icinga(
        root,
        node_name=MASTER,
        includes=[root / "zones.conf"],
        body=NODE_OBJECTS
        + api_listener_conf(free_port(), accept_config=False, accept_commands=False)
        + f"""
object CheckerComponent "checker" {{ }}
object NotificationComponent "notification" {{ }}
object ExternalCommandListener "command" {{ command_path = "{root / "run" / "icinga2.cmd"}" }}
object GraphiteWriter "graphite" {{
  host = "127.0.0.1"
  port = {graphite.port}
}}
"""
        + perfdata_writer_conf(root / "perfdata"),
        env=clock.env,
    )
    (root / "zones.conf").write_text(zones, encoding="utf-8")
    global_dir = master.zones_dir / "global-templates" / "check_dnsbl"
    global_dir.mkdir(parents=True)
    for name in SHIPPED_CONF:
        (global_dir / name).write_bytes((ICINGA_DIR / name).read_bytes())

    hosts = example("zones.d/master/mail-hosts.conf.example")
    for site in agents[1:]:
        hosts += "\n" + renamed(
            block(hosts, "Host", first.host), {first.host: site.host, first.address: site.address}
        )
    for site in agents:
        mine = block(hosts, "Host", site.host)
        hosts = hosts.replace(mine, mine.replace('"127.0.0.1"', f'"{site.world.resolver}"'))
    eu = example("zones.d/site-eu/mail-hosts.conf.example")
    eu = eu.replace('"192.0.2.53"', f'"{satellite.world.resolver}"')
    for name, text in (("master", hosts), ("site-eu", eu)):
        # The test's one addition: the mail goes to a file, not to /usr/sbin/sendmail.
        users = re.sub(
            r'(?m)^(\temail = "[^"]*")$', rf'\1\n\tvars.dnsbl_mail_sendmail = "{sendmail}"', text
        )
        (master.zones_dir / name).mkdir()
        (master.zones_dir / name / "mail-hosts.conf").write_text(users, encoding="utf-8")
    return master


def site_node(root: Path, site: Site, master_port: int) -> Icinga:
    """An agent or the satellite: the shipped zones.conf of its kind, the
    plugin in its own PluginContribDir, nothing else."""
    satellite = site.node == SATELLITE
    text = example("satellite/zones.conf.example" if satellite else "agent/zones.conf.example")
    if not satellite:
        text = renamed(text, {"mx1.example.com": site.node})
    text = endpoint_at(text, MASTER, master_port)
    node = Icinga(
        root,
        node_name=site.node,
        includes=[root / "zones.conf"],
        body=NODE_OBJECTS
        + api_listener_conf(site.port, accept_config=True, accept_commands=True)
        + ('object CheckerComponent "checker" { }\n' if satellite else ""),
        external_commands=satellite,
    )
    (root / "zones.conf").write_text(text, encoding="utf-8")
    write_plugin_wrapper(
        node.plugin_contrib_dir / "check_dnsbl",
        state_dir=root / "plugin-state",
        argv_log=root / "plugin.argv",
        state_log=root / "plugin.state",
    )
    return node


def assert_valid(node: Icinga) -> None:
    proc = node.validate()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    bad = [ln for ln in out.splitlines() if re.search(r"\b(warning|critical)/", ln)]
    assert bad == [], "\n".join(bad)


# ------------------------------------------------------------------ the run


def _cluster(
    master: Icinga,
    agents: list[Site],
    satellite: Site,
    clock: FakeClock,
    spool: Path,
    graphite: GraphiteSink,
) -> None:
    diag = master.diagnostics
    master.start()
    # From now on the master's clock is the real one: to Icinga, it has been
    # running for longer than its cold-start window. The agents connect after.
    clock.set(0)
    wait_for("the master's clock to catch up", lambda: master_time(master) > time.time() - 30, 10)
    for site in (*agents, satellite):
        assert site.icinga
        site.icinga.start()
    for site in (*agents, satellite):
        wait_synced(site)

    def check(site: Site, service: str) -> dict[str, str]:
        """Force one check of the site's service: by the master for an agent's
        host (it runs it on the agent), by the satellite for its own zone
        (a forced check relayed from the master waits for the satellite's
        first minute to pass); what the master received (its PerfdataWriter)."""
        seen = len(master.results(service, site.host))
        scheduler = site.icinga if site is satellite else master
        assert scheduler
        scheduler.check_now(site.host, service)
        done = lambda: len(master.results(service, site.host)) > seen  # noqa: E731
        wait_for(f"a {service} result of {site.host} on the master", done, 30, diag)
        results = master.results(service, site.host)
        assert len(results) == seen + 1, results
        return results[-1]

    def state(result: dict[str, str]) -> tuple[str, str]:
        return result["SERVICESTATE"], result["SERVICESTATETYPE"]

    a, b = agents

    # 1. Nothing listed: each site's checks run at that site, through its own
    # resolver, and the master has every result.
    for site in agents:
        for service in ("dnsbl", "dnsbl-new-listings"):
            result = check(site, service)
            assert state(result) == ("OK", "HARD"), result
            assert result["SERVICEOUTPUT"] == f"DNSBL OK - {site.address} not listed on 8 lists\n"
            assert re.search(r"(^| )listed=0;\S* lists=8;", result["SERVICEPERFDATA"]), result
    eu = check(satellite, "dnsbl")
    assert state(eu) == ("OK", "HARD"), eu
    assert eu["SERVICEOUTPUT"] == "DNSBL OK - 2 addresses not listed on 8 lists\n"
    assert "addresses=2;;;0 addresses_listed=0;;;0;2 " in eu["SERVICEPERFDATA"]
    assert not (master.plugin_contrib_dir / "check_dnsbl").exists()  # nothing runs there
    for site in (*agents, satellite):
        runs = argv_runs(site.argv_log)
        assert runs, f"the plugin never ran on {site.node}"
        assert all(pairs(run, "--nameserver") == [site.world.resolver] for run in runs)
        assert all(site.address in pairs(run, "--hostname") for run in runs)
    print("--- the master's view, clean ---", *map(record, master.perfdata()), sep="\n")

    # 2. Site A's world lists mx1's address (zen.spamhaus.org, XBL); site B's
    # does not. The master goes CRITICAL for mx1 only and mails once.
    a.world.update(zen_listing({a.address: f":127.0.0.4:{XBL_REASON}"}))
    delist = f"https://check.spamhaus.org/results/?query={a.address}"
    soft = check(a, "dnsbl")
    assert state(soft) == ("CRITICAL", "SOFT"), soft
    new = check(a, "dnsbl-new-listings")
    assert state(new) == ("CRITICAL", "HARD"), new
    assert new["SERVICEOUTPUT"].startswith(
        f"DNSBL CRITICAL - {a.address} listed on 1 of 8 lists: zen.spamhaus.org (XBL, NEW)\n"
    ), new
    hard = check(a, "dnsbl")
    assert state(hard) == ("CRITICAL", "HARD"), hard
    output = hard["SERVICEOUTPUT"]
    assert output.startswith(
        f"DNSBL CRITICAL - {a.address} listed on 1 of 8 lists: zen.spamhaus.org (XBL)\n"
        f"{a.address} listed on zen.spamhaus.org: 127.0.0.4 XBL: "
    ), output
    assert XBL_REASON in output and delist in output
    assert re.search(r"(^| )listed=1;0;1;0;8 ", hard["SERVICEPERFDATA"]), hard
    for service in ("dnsbl", "dnsbl-new-listings"):
        other = check(b, service)
        assert state(other) == ("OK", "HARD"), other
        assert other["SERVICEOUTPUT"] == f"DNSBL OK - {b.address} not listed on 8 lists\n"
    # The master parsed the perfdata it received: the GraphiteWriter sends values.
    metric = "icinga2.mx1_example_com.services.dnsbl.dnsbl.perfdata.listed.value"
    wait_for("graphite's listed=1 of mx1", lambda: "1" in metrics(graphite, metric), 20, diag)
    wait_for("2 mails", lambda: len(read_mails(spool)) >= 2, 20, diag)
    mails = read_mails(spool)
    subjects = sorted(map(subject, mails))
    assert subjects == [
        "[PROBLEM] DNSBL CRITICAL: mx1.example.com",
        "[PROBLEM] DNSBL new listing: mx1.example.com",
    ] and all(m.startswith("To: postmaster@example.com\n") for m in mails), mails
    problem = next(m for m in mails if "[PROBLEM] DNSBL CRITICAL" in m)
    assert f'\n\nPROBLEM: "dnsbl" on mx1.example.com is CRITICAL.\n\n{output.strip()}\n' in problem
    assert delist in problem
    print("--- the master's view, mx1 listed ---", *map(record, master.perfdata()[-6:]), sep="\n")

    # 3. Agent A stops: the master does not keep mx1's last state; its next
    # check of mx1 is UNKNOWN and says why (HARD: from one problem state to
    # another), and the postmaster is told. Site B goes on.
    assert a.icinga
    a.icinga.stop()
    gone = f"Removing API client for endpoint '{a.node}'"
    wait_for("the master to see mx1's agent gone", lambda: gone in master.log(), 20, diag)
    down = check(a, "dnsbl")
    assert state(down) == ("UNKNOWN", "HARD"), record(down)
    assert down["SERVICEOUTPUT"].strip() == (
        f"Remote Icinga instance '{a.node}' is not connected to '{MASTER}'"
    ), record(down)
    assert state(check(b, "dnsbl")) == ("OK", "HARD")
    print("--- the master's view, mx1's agent stopped ---", record(down), sep="\n")

    # 4. Agent A returns: mx1's results resume, still listed.
    since = len(a.icinga.log())
    a.icinga.start()
    wait_synced(a, since)
    back = check(a, "dnsbl")
    assert back["SERVICESTATE"] == "CRITICAL", back
    assert back["SERVICEOUTPUT"].startswith(
        f"DNSBL CRITICAL - {a.address} listed on 1 of 8 lists: zen.spamhaus.org (XBL)\n"
    ), back
    print("--- the master's view, mx1's agent back ---", record(back), sep="\n")

    # Where the history lives: on the node that runs the plugin, in the
    # directory $dnsbl_state_directory$ names, resolved where the check is
    # scheduled: for an agent by the master (the master's DataDir, the same
    # /var/lib/icinga2 on every Debian node), for a satellite by itself.
    assert satellite.icinga
    for site, data in [(a, master.root), (b, master.root), (satellite, satellite.icinga.root)]:
        logged = set(site.state_log.read_text(encoding="utf-8").splitlines())
        assert logged == {str(data / "data")}, (site.node, logged)
    # Four mails in all: the listing, the new listing, the agent's absence
    # and, once it is back, the listing again (a change from UNKNOWN).
    wait_for("4 mails", lambda: len(read_mails(spool)) >= 4, 20, diag)
    mails = read_mails(spool)
    assert [subject(m) for m in mails[2:]] == [
        "[PROBLEM] DNSBL UNKNOWN: mx1.example.com",
        "[PROBLEM] DNSBL CRITICAL: mx1.example.com",
    ], mails
    assert f"is UNKNOWN.\n\n{down['SERVICEOUTPUT'].strip()}\n\nHost:" in mails[2]
    assert delist in mails[3]
    # Icinga complained of nothing but the comings and goings of the nodes.
    for node in (master, *(site.icinga for site in (*agents, satellite))):
        assert node
        problems = [
            ln
            for ln in node.log().splitlines()
            if re.search(r"\] (warning|critical)/", ln) and not re.search(EXPECTED_LOG, ln)
        ]
        assert problems == [], "\n".join(problems)


def master_time(master: Icinga) -> float:
    """The time of the master's last log line, by its own clock."""
    stamps = re.findall(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ", master.log(), re.M)
    if not stamps:
        return 0.0
    return time.mktime(time.strptime(stamps[-1] + " UTC", "%Y-%m-%d %H:%M:%S %Z"))


def zen_listing(listed: dict[str, str]) -> Zone:
    (zen,) = (z for z in site_zones(listed) if z.name == "zen.spamhaus.org")
    return zen


def argv_runs(log: Path) -> list[list[str]]:
    return [line.split(" ") for line in log.read_text(encoding="utf-8").splitlines()]


def pairs(argv: list[str], option: str) -> list[str]:
    """The values given to ``option`` in an argv."""
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == option]


def metrics(graphite: GraphiteSink, path: str) -> list[str]:
    return [v for n, v, _ts in (line.split(" ") for line in graphite.lines) if n == path]


def subject(mail: str) -> str:
    return mail.split("\nSubject: ", 1)[1].split("\n", 1)[0]


def record(result: dict[str, str]) -> str:
    """A PerfdataWriter record as the report quotes it."""
    name = f"{result['HOSTNAME']}!{result['SERVICEDESC']}"
    state = f"{result['SERVICESTATE']} {result['SERVICESTATETYPE']}"
    return f"{name} {state}: {result['SERVICEOUTPUT'].strip()} | {result['SERVICEPERFDATA']}"


def wait_synced(site: Site, since: int = 0) -> None:
    """The node is connected to the master and runs the config it received:
    after a reload for new config, the master's update is "equal to production"."""
    assert site.icinga
    node = site.icinga
    wait_for(
        f"{site.node} to run the config of the master",
        lambda: "are equal to production, skipping validation and reload" in node.log()[since:],
        60,
        node.diagnostics,
    )


# ------------------------------------------------------- load at the lists

NETWORK = "192.0.2.0/24"
QPS = 100


def test_site_check_of_a_24_stays_within_max_qps() -> None:
    """A site checks its whole /24 with --max-qps: the list's server (the
    relay in front of rbldnsd counts what reaches it) never sees more than
    QPS queries a second since the run began, and exactly the queries the
    README's arithmetic gives: per list, one for each address, two for the
    self-test, one TXT for each listing.

    Counted from the plugin's start, so a slow machine can only lower the
    rate the server sees, never raise it: no timing in the assertion.
    """
    listed = {"192.0.2.7": ":127.0.0.4:test listing", "192.0.2.77": ":127.0.0.4:test listing"}
    with DnsWorld([zen_listing(listed)], relay=Relay()) as world:
        base = relay_control(world.relay_control)["received"]
        samples: list[tuple[float, int]] = []
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "check_dnsbl", "-H", NETWORK, "-s", "zen.spamhaus.org",
             "-n", world.resolver, "--max-qps", str(QPS), "--no-state"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        while proc.poll() is None:
            received = relay_control(world.relay_control)["received"] - base
            samples.append((time.monotonic() - start, received))
            time.sleep(0.05)
        out, err = proc.communicate(timeout=60)
        total = relay_control(world.relay_control)["received"] - base
    assert (proc.returncode, err) == (2, ""), out + err
    assert out.startswith(
        "DNSBL CRITICAL - 2 of 256 addresses listed: 192.0.2.7 on zen.spamhaus.org (XBL); "
        "192.0.2.77 on zen.spamhaus.org (XBL)\n"
    ), out
    assert total == 256 + 2 + len(listed), total
    over = [(t, n) for t, n in samples if n > QPS * t + 1]
    assert over == [], f"more than {QPS} queries/s reached the list: {over}"
    during = [n for _t, n in samples if 0 < n < total]
    assert len(during) >= 10, samples  # the rate was watched while it ran
    print(f"{total} queries in {samples[-1][0]:.2f} s at --max-qps {QPS}; samples:", samples[::10])
