"""icinga/: the shipped Icinga 2 and Nagios 4 config, proven on the real daemons.

- every shipped .conf validates with ``icinga2 daemon -C`` (ITL included), the
  apply rules make the objects they promise, the distributed example too;
- the CheckCommand maps every plugin option, with the --help text;
- ``nagios4 -v`` accepts the Nagios objects;
- end to end: a real ``icinga2 daemon`` checks a listed address through the
  DnsWorld (rbldnsd + unbound on loopback), goes CRITICAL, graphs the perfdata,
  mails once with the delist link, recovers after the delisting and mails the
  RECOVERY; the ITL's own ``rbl`` command drives check_dnsbl installed as
  check_rbl; no icinga2 process outlives the test;
- end to end, the shipped apply rules as they are: the volatile companion
  ``dnsbl-new-listings`` mails exactly once per new listing, also while the
  main ``dnsbl`` service stays CRITICAL, and nothing while nothing changes.

``make install`` and the Debian package are tested in tests/test_packaging.py;
the first end-to-end test runs the plugin and the CheckCommand as the .deb
installs them (extracted, tests/delivery.py).

Nothing is mocked. Under CI=true a missing icinga2/nagios4 fails, never skips.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import delivery
from tests.dnsworld import DnsWorld, Zone, require_tool
from tests.icinga_harness import (
    ICINGA_DIR,
    SHIPPED_CONF,
    GraphiteSink,
    Icinga,
    graphite_writer_conf,
    live_pids,
    nagios_validate,
    read_mails,
    wait_for,
    write_fake_sendmail,
    write_plugin_wrapper,
)

LISTED = "198.51.100.10"
XBL_REASON = "Listed in XBL, see https://check.spamhaus.org/"
SPAMHAUS_DELIST = f"https://check.spamhaus.org/results/?query={LISTED}"
SPAMCOP_DELIST = f"https://www.spamcop.net/bl.shtml?{LISTED}"


def zen(listed: bool) -> Zone:
    lines = ["127.0.0.2 :127.0.0.2:test"]
    if listed:
        lines.append(f"{LISTED} :127.0.0.4:{XBL_REASON}")
    return Zone("zen.spamhaus.org", ip4=tuple(lines))


def spamcop(listed: bool) -> Zone:
    return Zone("bl.spamcop.net", ip4=("127.0.0.2", *([LISTED] if listed else [])))


PSBL = Zone("psbl.surriel.com", ip4=("127.0.0.2",))


@pytest.fixture(scope="module")
def icinga2() -> str:
    return require_tool("icinga2")


def parse_objects(listing: str) -> dict[str, str]:
    """``icinga2 object list`` output as {object name: its attribute block}."""
    parts = re.split(r"^Object '([^']+)' of type '\w+':\n", listing, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


#: Hosts without an agent (nor vars.dnsbl_bounces) get no "dnsbl-bounces".
BOUNCES_UNUSED = r"Apply rule 'dnsbl-bounces(-mail)?' \(in .*\) .* does not match anywhere!"


def assert_clean_validation(proc: subprocess.CompletedProcess[str], allow: str = r"(?!)") -> None:
    """Exit 0, and no warning or critical line (but those matching ``allow``)."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Finished validating the configuration file(s)." in out
    bad = [
        ln
        for ln in out.splitlines()
        if re.search(r"\b(warning|critical)/", ln) and not re.search(allow, ln)
    ]
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------ configuration

SINGLE_NODE = """
object IcingaApplication "app" { }
object User "postmaster" { email = "postmaster@example.test" }
object Host "mx1" {
  check_command = "dummy"
  address = "192.0.2.25"
  vars.mail_server = true
  vars.dnsbl = { dnsbl_nameserver = [ "127.0.0.1" ], dnsbl_critical = 1 }
  vars.dnsbl_bounces = { bounces_log = "/var/log/mail/mail.log" }
  vars.notification.dnsbl = { users = [ "postmaster" ] }
}
object Host "agent-mx" {
  check_command = "dummy"
  address6 = "2001:db8::25"
  vars.mail_server = true
}
object Host "web1" {
  check_command = "dummy"
  address = "192.0.2.80"
}
"""


def test_every_shipped_conf_is_validated() -> None:
    """The tests below include SHIPPED_CONF; a new .conf must be added there."""
    assert sorted(p.name for p in ICINGA_DIR.glob("*.conf")) == sorted(SHIPPED_CONF)


def test_shipped_conf_validates_and_applies(icinga2: str, tmp_path: Path) -> None:
    icinga = Icinga(
        tmp_path, exe=icinga2, includes=[ICINGA_DIR / f for f in SHIPPED_CONF], body=SINGLE_NODE
    )
    assert_clean_validation(icinga.validate())

    services = parse_objects(icinga.object_list("Service"))
    assert sorted(services) == [  # web1: no mail_server; agent-mx: no agent, no opt-in
        "agent-mx!dnsbl", "agent-mx!dnsbl-new-listings", "mx1!dnsbl", "mx1!dnsbl-bounces",
        "mx1!dnsbl-new-listings",
    ]  # fmt: skip
    bounces = services["mx1!dnsbl-bounces"]  # Icinga on the mail server itself: no agent
    assert '* command_endpoint = ""' in bounces
    assert '* bounces_log = "/var/log/mail/mail.log"' in bounces
    assert "* volatile = true" in bounces and "* max_check_attempts = 1" in bounces
    mx1 = services["mx1!dnsbl"]
    assert '* check_command = "dnsbl"' in mx1
    assert "* check_interval = 900" in mx1
    assert "* retry_interval = 300" in mx1
    assert "* max_check_attempts = 2" in mx1
    assert '* dnsbl_nameserver = [ "127.0.0.1" ]' in mx1  # host.vars.dnsbl merged
    assert "* dnsbl_critical = 1" in mx1
    assert '* command_endpoint = ""' in mx1
    assert "* volatile = false" in mx1
    assert "dnsbl_state_file" not in mx1  # the plugin's default file

    # The companion: same targets and options, only NEW listings count, its
    # own history file, volatile and HARD at once.
    new = services["mx1!dnsbl-new-listings"]
    assert "* volatile = true" in new
    assert "* max_check_attempts = 1" in new
    assert "* check_interval = 900" in new  # as often as "dnsbl", no more
    assert '* dnsbl_nameserver = [ "127.0.0.1" ]' in new  # host.vars.dnsbl merged
    assert "* dnsbl_new_listings_only = true" in new
    assert '* dnsbl_new_listing_state = "critical"' in new
    own_file = "$dnsbl_state_directory$/check_dnsbl/$host.name$!$service.name$.json"
    assert f'* dnsbl_state_file = "{own_file}"' in new

    notifications = parse_objects(icinga.object_list("Notification"))
    assert sorted(notifications) == [  # only hosts that ask for it
        "mx1!dnsbl!dnsbl-mail", "mx1!dnsbl-bounces!dnsbl-bounces-mail",
        "mx1!dnsbl-new-listings!dnsbl-new-listings-mail",
    ]  # fmt: skip
    # the full output, with the receivers' words and the delist link
    assert '* command = "dnsbl-mail"' in notifications["mx1!dnsbl-bounces!dnsbl-bounces-mail"]
    note = notifications["mx1!dnsbl!dnsbl-mail"]
    assert '* users = [ "postmaster" ]' in note
    assert "* interval = 0" in note
    assert '* command = "dnsbl-mail"' in note
    note = notifications["mx1!dnsbl-new-listings!dnsbl-new-listings-mail"]
    assert '* users = [ "postmaster" ]' in note
    assert "* interval = 0" in note
    assert '* command = "dnsbl-mail"' in note
    assert '* states = [ "Warning", "Critical" ]' in note  # no UNKNOWN at every check
    assert '* types = [ "Problem", "Custom" ]' in note  # no RECOVERY after each one
    assert '* dnsbl_mail_subject = "[$notification.type$] DNSBL new listing: ' in note

    commands = parse_objects(icinga.object_list("CheckCommand"))
    dnsbl = commands["dnsbl"]
    assert '"ipv4-or-ipv6"' in dnsbl  # imported template
    assert f'* command = [ "{icinga.plugin_contrib_dir}/check_dnsbl" ]' in dnsbl
    assert '* dnsbl_address = "$check_address$"' in dnsbl
    assert "* timeout = 60" in dnsbl
    assert "* dnsbl_timeout = 30" in dnsbl  # below the CheckCommand timeout
    assert f'* dnsbl_state_directory = "{icinga.root / "data"}"' in dnsbl  # DataDir


def test_new_listings_keeps_its_own_history(icinga2: str, tmp_path: Path) -> None:
    """host.vars.dnsbl reaches both services, but for the history settings,
    which would silence the companion; host.vars.dnsbl_new_listings is for the
    companion only, and false leaves a host without it."""
    icinga = Icinga(
        tmp_path,
        exe=icinga2,
        includes=[ICINGA_DIR / f for f in SHIPPED_CONF],
        body="""
object IcingaApplication "app" { }
object Host "mx3" {
  check_command = "dummy"
  address = "192.0.2.26"
  vars.mail_server = true
  vars.dnsbl = {
    dnsbl_state_file = "/srv/dnsbl.json", dnsbl_no_state = true,
    dnsbl_new_listings_only = false, dnsbl_critical = 1
  }
  vars.dnsbl_new_listings = { dnsbl_new_listing_state = "warning" }
}
object Host "mx4" {
  check_command = "dummy"
  address = "192.0.2.27"
  vars.mail_server = true
  vars.dnsbl_new_listings = false
}
""",
    )
    no_mail = r"Apply rule 'dnsbl(-new-listings)?-mail' \(in .*\) .* does not match anywhere!"
    assert_clean_validation(icinga.validate(), allow=f"{no_mail}|{BOUNCES_UNUSED}")
    services = parse_objects(icinga.object_list("Service"))
    assert sorted(services) == ["mx3!dnsbl", "mx3!dnsbl-new-listings", "mx4!dnsbl"]
    main, new = services["mx3!dnsbl"], services["mx3!dnsbl-new-listings"]
    assert '* dnsbl_state_file = "/srv/dnsbl.json"' in main
    assert "* dnsbl_no_state = true" in main
    assert "* dnsbl_critical = 1" in new
    assert "/srv/dnsbl.json" not in new
    assert "dnsbl_no_state" not in new
    assert "* dnsbl_new_listings_only = true" in new
    assert '* dnsbl_new_listing_state = "warning"' in new
    assert "dnsbl_new_listing_state" not in main


def test_distributed_example_validates(icinga2: str, tmp_path: Path) -> None:
    """The README's layout: our files in the global zone, hosts in master and site-eu."""
    dist = ICINGA_DIR / "distributed"
    icinga = Icinga(
        tmp_path,
        exe=icinga2,
        node_name="master1.example.com",
        includes=[dist / "zones.conf.example"],
        body='object IcingaApplication "app" { }\n',
    )
    global_dir = icinga.zones_dir / "global-templates" / "check_dnsbl"
    global_dir.mkdir(parents=True)
    for name in SHIPPED_CONF:
        shutil.copy(ICINGA_DIR / name, global_dir / name)
    examples = sorted((dist / "zones.d").glob("*/*.conf.example"))
    assert [p.parent.name for p in examples] == ["master", "site-eu"]
    for example in examples:
        zone_dir = icinga.zones_dir / example.parent.name
        zone_dir.mkdir()
        shutil.copy(example, zone_dir / example.name.removesuffix(".example"))
    assert_clean_validation(icinga.validate())

    services = parse_objects(icinga.object_list("Service"))
    assert sorted(services) == [
        "mx1.example.com!dnsbl", "mx1.example.com!dnsbl-bounces",
        "mx1.example.com!dnsbl-new-listings",
        "mx2.example.net!dnsbl", "mx2.example.net!dnsbl-new-listings",
    ]  # fmt: skip
    # the bounces check reads the mail server's own log: only where an agent runs it
    bounces = services["mx1.example.com!dnsbl-bounces"]
    assert '* command_endpoint = "mx1.example.com"' in bounces
    assert '* check_command = "dnsbl-bounces"' in bounces
    for name in ("dnsbl", "dnsbl-new-listings"):
        agent = services[f"mx1.example.com!{name}"]
        assert '* command_endpoint = "mx1.example.com"' in agent  # runs on the mail server
        assert '* zone = "master"' in agent
        satellite = services[f"mx2.example.net!{name}"]
        assert '* command_endpoint = ""' in satellite
        assert '* zone = "site-eu"' in satellite  # scheduled by the site's satellite
    notifications = parse_objects(icinga.object_list("Notification"))
    assert sorted(notifications) == [
        "mx1.example.com!dnsbl!dnsbl-mail",
        "mx1.example.com!dnsbl-bounces!dnsbl-bounces-mail",
        "mx1.example.com!dnsbl-new-listings!dnsbl-new-listings-mail",
        "mx2.example.net!dnsbl!dnsbl-mail",
        "mx2.example.net!dnsbl-new-listings!dnsbl-new-listings-mail",
    ]


def _conf_arguments(name: str = "dnsbl.conf") -> dict[str, str]:
    """A CheckCommand's arguments block: {argument key: its body}."""
    text = (ICINGA_DIR / name).read_text(encoding="utf-8")
    return dict(re.findall(r'^\t\t"(-[-\w]+)" = \{\n(.*?)^\t\t\}', text, re.M | re.S))


def test_command_maps_every_plugin_option() -> None:
    """Each check option has a dnsbl_ variable and the --help text as description."""
    from check_dnsbl.options import build_parser

    args = _conf_arguments()
    informational = {"show_lists", "version", "help"}  # print and exit UNKNOWN
    seen = set()
    for action in build_parser()._actions:
        if action.dest in informational:
            continue
        keys = [k for k in action.option_strings if k in args]
        assert len(keys) == 1, f"{action.option_strings} mapped {len(keys)} times"
        key = keys[0]
        seen.add(key)
        body = args[key]
        desc = re.search(r'description = "(.*)"', body)
        assert desc, f"{key} has no description"
        if isinstance(action, argparse._CountAction):  # -v, -vv, -vvv
            assert desc.group(1).startswith(str(action.help)), key
            for level, flag in enumerate(("-v", "-vv", "-vvv"), 1):
                assert f'macro("$dnsbl_verbose_level$") == {level} }}' in args[flag]
                seen.add(flag)
            continue
        assert desc.group(1) == action.help, f"{key}: description differs from --help"
        if isinstance(action, argparse._StoreTrueAction):
            assert re.search(r'set_if = "\$dnsbl_\w+\$"', body), f"{key} is a flag: set_if"
            continue
        var = re.search(r'value = "\$(dnsbl_\w+)\$"', body)
        assert var, f"{key} has no $dnsbl_...$ value"
        if isinstance(action, argparse._AppendAction):
            assert "repeat_key = true" in body, f"{key} is repeatable"
    assert seen == set(args), f"arguments for no plugin option: {set(args) - seen}"


def test_bounces_command_maps_every_plugin_option() -> None:
    """dnsbl-bounces: each option of check_dnsbl_bounces has a bounces_ variable
    and the --help text as description, as for dnsbl."""
    from check_dnsbl.bounces.options import build_parser

    args = _conf_arguments("dnsbl-bounces.conf")
    seen = set()
    for action in build_parser()._actions:
        if action.dest in ("version", "help"):
            continue
        keys = [k for k in action.option_strings if k in args]
        assert len(keys) == 1, f"{action.option_strings} mapped {len(keys)} times"
        seen.add(keys[0])
        body = args[keys[0]]
        desc = re.search(r'description = "(.*)"', body)
        assert desc and desc.group(1) == action.help, f"{keys[0]}: description differs"
        if isinstance(action, argparse._StoreTrueAction | argparse._CountAction):
            assert re.search(r'set_if = "\$bounces_\w+\$"', body), f"{keys[0]} is a flag"
        else:
            assert re.search(r'value = "\$bounces_\w+\$"', body), f"{keys[0]}: no value"
    assert seen == set(args), f"arguments for no plugin option: {set(args) - seen}"


def test_command_keys_only_as_files_and_state() -> None:
    """List keys are given as files (dnsbl_*_key_file), never as a variable's
    value, which `icinga2 object list`, Icinga Web and the API show in clear;
    the history goes to a directory Icinga can write."""
    from check_dnsbl.keys import KEYS

    text = (ICINGA_DIR / "dnsbl.conf").read_text(encoding="utf-8")
    env = re.search(r"^\tenv = \{\n(.*?)^\t\}", text, re.M | re.S)
    assert env, "no env block"
    assert dict(re.findall(r'(\w+) = "(.*)"', env.group(1))) == {
        "STATE_DIRECTORY": "$dnsbl_state_directory$"
    }
    args = _conf_arguments()
    for name in KEYS:
        assert f'value = "$dnsbl_{name}_key_file$"' in args[f"--{name}-key-file"]
    assert not re.search(r"\$dnsbl_\w+_key\$", text)  # no variable that holds a key


# -------------------------------------------------------------------- Nagios


def test_nagios_objects_validate(tmp_path: Path) -> None:
    nagios4 = require_tool("nagios4")
    objects = tmp_path / "objects.cfg"
    objects.write_text(
        """
define timeperiod {
    timeperiod_name 24x7
    alias           always
    sunday 00:00-24:00
    monday 00:00-24:00
    tuesday 00:00-24:00
    wednesday 00:00-24:00
    thursday 00:00-24:00
    friday 00:00-24:00
    saturday 00:00-24:00
}
define command {
    command_name check-host-alive
    command_line $USER1$/check_ping -H $HOSTADDRESS$ -w 3000.0,80% -c 5000.0,100% -p 1
}
define command {
    command_name notify-host-by-email
    command_line /bin/true
}
""",
        encoding="utf-8",
    )
    nagios = ICINGA_DIR / "nagios"
    proc = nagios_validate(
        tmp_path,
        [objects, nagios / "check_dnsbl.cfg", nagios / "services.cfg.example"],
        exe=nagios4,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Total Warnings: 0" in out, out
    assert "Total Errors:   0" in out, out
    assert re.search(r"Checked\s+1 services\.", out), out
    assert re.search(r"Checked\s+4 commands\.", out), out


def test_nagios_command_line_is_accepted_by_the_plugin() -> None:
    """The check_dnsbl command, with the example's $ARG1$, parses as plugin options."""
    from check_dnsbl.options import build_parser

    cfg = (ICINGA_DIR / "nagios" / "check_dnsbl.cfg").read_text(encoding="utf-8")
    line = re.search(r"command_name\s+check_dnsbl\n\s+command_line\s+(.*)", cfg)
    assert line, "no check_dnsbl command"
    example = (ICINGA_DIR / "nagios" / "services.cfg.example").read_text(encoding="utf-8")
    arg1 = re.search(r"check_command\s+check_dnsbl!(.*)", example)
    assert arg1, "the example passes no $ARG1$"
    command = line.group(1).replace("$HOSTADDRESS$", "192.0.2.25").replace("$ARG1$", arg1[1])
    argv = shlex.split(command)
    assert argv[0] == "$USER1$/check_dnsbl"
    args = build_parser().parse_args(argv[1:])
    assert args.targets == ["192.0.2.25"]
    assert args.nameservers == ["127.0.0.1"]


# ---------------------------------------------------------------- end to end

#: Listed on nothing public, only in the keyed (DQS) zone.
DQS_ONLY = "198.51.100.20"
DQS_KEY = "dqstestkey0123456789abcdef"

E2E_OBJECTS = """
object IcingaApplication "app" { }
object CheckerComponent "checker" { }
object NotificationComponent "notification" { }
object FileLogger "main-log" {
  severity = "notice"
  path = LogDir + "/icinga2.log"
}
object User "postmaster" {
  email = "postmaster@example.test"
}

object Host "mx1" {
  check_command = "dummy"
  check_interval = 1s
  address = "@LISTED@"
  vars.notification.dnsbl = { users = [ "postmaster" ] }
  vars.dnsbl_mail_sendmail = "@SENDMAIL@"
}

/* The shipped template, checked every second instead of every 15 minutes. */
object Service "dnsbl" {
  import "dnsbl-service"
  host_name = "mx1"
  check_interval = 1s
  retry_interval = 1s
  vars.dnsbl_nameserver = [ "@RESOLVER@" ]
  vars.dnsbl_server = [ "zen.spamhaus.org", "psbl.surriel.com" ]
}

/* The ITL's own "rbl" command, unchanged, with its defaults -w 1 -c 1 -t 15. */
object Service "rbl" {
  host_name = "mx1"
  check_command = "rbl"
  check_interval = 1s
  retry_interval = 1s
  max_check_attempts = 1
  vars.rbl_server = [ "bl.spamcop.net", "psbl.surriel.com" ]
}

/* More of the CheckCommand; this host has no notifications. */
object Host "mx2" {
  check_command = "dummy"
  check_interval = 1s
  address = "@DQS_ONLY@"
}
/* The host address dropped (an empty array), --mx instead, -vv through the set_if lambdas. */
object Service "dnsbl-mx" {
  import "dnsbl-service"
  host_name = "mx2"
  check_interval = 1s
  vars.dnsbl_address = [ ]
  vars.dnsbl_mx = [ "example.test" ]
  vars.dnsbl_nameserver = [ "@RESOLVER@" ]
  vars.dnsbl_server = [ "psbl.surriel.com" ]
  vars.dnsbl_verbose_level = 2
}
/* A list key, given as a file: Icinga's config, API and logs never hold it. */
object Service "dnsbl-dqs" {
  import "dnsbl-service"
  host_name = "mx2"
  check_interval = 1s
  vars.dnsbl_nameserver = [ "@RESOLVER@" ]
  vars.dnsbl_server = [ "zen.spamhaus.org" ]
  vars.dnsbl_dqs_key_file = "@DQS_KEY_FILE@"
}
"""


def run_plugin(wrapper: Path, *args: str) -> int:
    """Run the plugin as Icinga would, without history; its exit code."""
    proc = subprocess.run(
        [str(wrapper), "--no-state", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.stderr == ""
    return proc.returncode


def mails_for(spool: Path, service: str) -> list[str]:
    return [m for m in read_mails(spool) if f'"{service}" on mx1 is' in m]


def message_parts(mail: str) -> tuple[dict[str, str], str]:
    head, _, body = mail.partition("\n\n")
    headers = dict(line.split(": ", 1) for line in head.splitlines())
    return headers, body


def argv_runs(log: Path) -> list[list[str]]:
    try:
        return [line.split(" ") for line in log.read_text(encoding="utf-8").splitlines()]
    except FileNotFoundError:
        return []


def pairs(argv: list[str]) -> list[tuple[str, str]]:
    """Option/value pairs of an argv made of options with values only."""
    return sorted(zip(argv[0::2], argv[1::2], strict=True))


@pytest.fixture
def world() -> Iterator[DnsWorld]:
    dqs = Zone(
        f"{DQS_KEY}.zen.dq.spamhaus.net",
        ip4=("127.0.0.2 :127.0.0.2:test", f"{DQS_ONLY} :127.0.0.3:CSS listing"),
    )
    hosts = {"example.test": ["MX 10 mx1.example.test."], "mx1.example.test": [f"A {LISTED}"]}
    with DnsWorld([zen(listed=True), spamcop(listed=True), PSBL, dqs], hosts=hosts) as w:
        yield w


@pytest.mark.e2e
def test_icinga_e2e_notifies_and_recovers(icinga2: str, world: DnsWorld, tmp_path: Path) -> None:
    """As the Debian package installs it: its plugin, its CheckCommand (from
    plugins-contrib.d) and its example services and notifications."""
    pkg = delivery.package()
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    state = tmp_path / "state"  # for runs Icinga does not give a STATE_DIRECTORY
    dnsbl_argv, rbl_argv = tmp_path / "dnsbl.argv", tmp_path / "rbl.argv"
    write_plugin_wrapper(
        plugins / "check_dnsbl", state_dir=state, argv_log=dnsbl_argv, package=pkg
    )
    # The drop-in: check_dnsbl under the name check_rbl. The ITL's rbl command has
    # no resolver option; a production host uses /etc/resolv.conf, this test must
    # stay on the loopback DnsWorld, so the wrapper appends -n after Icinga's argv.
    write_plugin_wrapper(
        plugins / "check_rbl",
        state_dir=state,
        argv_log=rbl_argv,
        extra_args=["-n", world.resolver],
        package=pkg,
    )
    spool = tmp_path / "mail.spool"
    sendmail = write_fake_sendmail(tmp_path / "sendmail", spool)
    key_file = tmp_path / "dqs.key"
    key_file.write_text(DQS_KEY + "\n")
    key_file.chmod(0o600)

    with GraphiteSink() as graphite:
        body = E2E_OBJECTS + graphite_writer_conf(graphite.port)
        for name, value in {
            "LISTED": LISTED,
            "DQS_ONLY": DQS_ONLY,
            "DQS_KEY_FILE": str(key_file),
            "SENDMAIL": str(sendmail),
            "RESOLVER": world.resolver,
        }.items():
            body = body.replace(f"@{name}@", value)
        icinga = Icinga(
            tmp_path / "icinga",
            exe=icinga2,
            plugin_contrib_dir=plugins,
            includes=[
                pkg.root / delivery.CHECKCOMMAND,
                pkg.root / delivery.BOUNCES_COMMAND,
                *(
                    pkg.root / delivery.EXAMPLES / f
                    for f in SHIPPED_CONF
                    if f not in ("dnsbl.conf", "dnsbl-bounces.conf")  # installed as commands
                ),
            ],
            body=body,
            perfdata_writer=True,
        )
        # The e2e hosts have no vars.mail_server: their services set 1s intervals.
        unused = (
            r"Apply rule 'dnsbl(-new-listings(-mail)?)?' \(in .*\) .* does not match anywhere!"
        )
        assert_clean_validation(icinga.validate(), allow=f"{unused}|{BOUNCES_UNUSED}")
        assert DQS_KEY not in icinga.object_list("Service")  # what Icinga Web and the API show
        try:
            with icinga:
                _e2e(icinga, world, graphite, spool, dnsbl_argv, rbl_argv)
        finally:
            leftovers = live_pids(str(icinga.conf))
        assert leftovers == [], f"icinga2 processes outlived the test: {leftovers}"
        pgrep = subprocess.run(["pgrep", "-f", str(icinga.conf)], capture_output=True, check=False)
        assert pgrep.stdout == b"", pgrep.stdout
    print("--- the mails (shown with pytest -s) ---", *read_mails(spool), sep="\n")


def _e2e(
    icinga: Icinga,
    world: DnsWorld,
    graphite: GraphiteSink,
    spool: Path,
    dnsbl_argv: Path,
    rbl_argv: Path,
) -> None:
    diag = icinga.diagnostics

    # 1. PROBLEM: one mail (a first result after start is HARD at once) that
    # carries the whole plugin output Icinga got, delist link included.
    wait_for("the PROBLEM mail", lambda: mails_for(spool, "dnsbl"), 30, diag)
    wait_for("a CRITICAL dnsbl result", lambda: _first(icinga, "dnsbl", "CRITICAL"), 10, diag)
    result = _first(icinga, "dnsbl", "CRITICAL")
    assert result
    assert result["SERVICESTATETYPE"] == "HARD"
    output = result["SERVICEOUTPUT"]
    assert output.startswith(f"DNSBL CRITICAL - {LISTED} listed on 1 of 2 lists: zen.spamhaus.org")
    assert XBL_REASON in output
    assert SPAMHAUS_DELIST in output
    assert len(output.splitlines()) >= 2  # summary line plus long output
    assert re.search(r"(^| )listed=1;", result["SERVICEPERFDATA"]), result
    headers, text = message_parts(mails_for(spool, "dnsbl")[0])
    assert headers["To"] == "postmaster@example.test"
    assert headers["Subject"] == "[PROBLEM] DNSBL CRITICAL: mx1"
    assert headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert text.startswith(
        f'PROBLEM: "dnsbl" on mx1 is CRITICAL.\n\n{output.strip()}\n\n'
        f"Host:     mx1 ({LISTED})\nWhen:     "
    ), text
    assert "Comment:" not in text  # only for notifications with a comment
    assert re.search(r"^Perfdata: .*\blisted=1;", text, re.M), text

    # 2. The CheckCommand's argv, as the plugin received it.
    first = next(a for a in argv_runs(dnsbl_argv) if "zen.spamhaus.org" in a and LISTED in a)
    assert pairs(first) == pairs(
        ["--hostname", LISTED, "--nameserver", world.resolver, "--server", "zen.spamhaus.org",
         "--server", "psbl.surriel.com", "--timeout", "30"]
    )  # fmt: skip

    # 3. The ITL's rbl command drives check_dnsbl as check_rbl: CRITICAL on one
    # listing of a list of normal severity, because of the ITL's -c 1 ...
    wait_for("a CRITICAL rbl result", lambda: _first(icinga, "rbl", "CRITICAL"), 10, diag)
    rbl = _first(icinga, "rbl", "CRITICAL")
    assert rbl
    assert rbl["SERVICEOUTPUT"].startswith(
        f"DNSBL CRITICAL - {LISTED} listed on 1 of 2 lists: bl.spamcop.net"
    ), rbl
    assert SPAMCOP_DELIST in rbl["SERVICEOUTPUT"]
    itl_argv = argv_runs(rbl_argv)[0]
    assert pairs(itl_argv) == [
        ("-H", LISTED), ("-c", "1"), ("-s", "bl.spamcop.net"), ("-s", "psbl.surriel.com"),
        ("-t", "15"), ("-w", "1"),
    ]  # fmt: skip
    # ... where the plugin's own default (-c 2) says WARNING for the same answer.
    without_c = [x for opt, val in pairs(itl_argv) if opt != "-c" for x in (opt, val)]
    assert run_plugin(icinga.plugin_contrib_dir / "check_rbl", *without_c) == 1
    wait_for("the rbl PROBLEM mail", lambda: mails_for(spool, "rbl"), 10, diag)
    assert SPAMCOP_DELIST in mails_for(spool, "rbl")[0]

    # 4. dnsbl_address = [ ] drops --hostname; --mx; -vv from dnsbl_verbose_level.
    wait_for("a dnsbl-mx result", lambda: icinga.results("dnsbl-mx"), 10, diag)
    mx_argv = next(a for a in argv_runs(dnsbl_argv) if "--mx" in a)
    assert mx_argv[-1] == "-vv"
    assert pairs(mx_argv[:-1]) == pairs(
        ["--mx", "example.test", "--nameserver", world.resolver, "--server", "psbl.surriel.com",
         "--timeout", "30"]
    )  # fmt: skip
    mx = icinga.results("dnsbl-mx")[0]
    assert mx["SERVICESTATE"] == "OK", mx
    assert mx["SERVICEOUTPUT"].startswith(f"DNSBL OK - {LISTED} (mx1.example.test"), mx
    assert len(mx["SERVICEOUTPUT"].splitlines()) >= 3, mx  # -vv: verdicts and statistics

    # 5. The DQS key reaches the plugin (only the keyed zone lists DQS_ONLY),
    # and only through its file: not in argv, output or Icinga's log.
    wait_for("a dnsbl-dqs result", lambda: icinga.results("dnsbl-dqs"), 10, diag)
    dqs = icinga.results("dnsbl-dqs")[0]
    assert dqs["SERVICESTATE"] == "CRITICAL", dqs
    assert dqs["SERVICEOUTPUT"].startswith(f"DNSBL CRITICAL - {DQS_ONLY} listed on 1 of 1"), dqs
    assert DQS_KEY not in dnsbl_argv.read_text(encoding="utf-8")
    assert DQS_KEY not in dqs["SERVICEOUTPUT"]

    # 6. While the listing stays: Icinga parsed the perfdata (the GraphiteWriter
    # sends the values it parsed; it may connect only 10 s after the start),
    # and interval = 0 sent no second PROBLEM mail over several more checks.
    prefix = "icinga2.mx1.services.dnsbl.dnsbl.perfdata."
    wait_for("graphite metrics", lambda: _metrics(graphite, prefix + "listed.value"), 20, diag)
    assert _metrics(graphite, prefix + "listed.value")[0] == "1"
    assert _metrics(graphite, prefix + "listed.max")[0] == "2"
    assert _metrics(graphite, prefix + "lists.value")[0] == "2"
    assert _metrics(graphite, prefix + "errors.value")[0] == "0"
    wait_for("5 dnsbl checks", lambda: len(icinga.results("dnsbl")) >= 5, 15, diag)
    assert len(mails_for(spool, "dnsbl")) == 1

    # 7. Delisting: both services recover, one RECOVERY mail each.
    world.update(zen(listed=False))
    world.update(spamcop(listed=False))
    wait_for("the RECOVERY mail", lambda: len(mails_for(spool, "dnsbl")) == 2, 20, diag)
    wait_for("the rbl RECOVERY mail", lambda: len(mails_for(spool, "rbl")) == 2, 20, diag)
    headers, text = message_parts(mails_for(spool, "dnsbl")[1])
    assert headers["Subject"] == "[RECOVERY] DNSBL OK: mx1"
    assert text.startswith('RECOVERY: "dnsbl" on mx1 is OK.\n\nDNSBL OK - ')
    assert SPAMHAUS_DELIST not in text
    assert re.search(r"^Perfdata: .*\blisted=0;", text, re.M), text
    assert message_parts(mails_for(spool, "rbl")[1])[0]["Subject"] == "[RECOVERY] DNSBL OK: mx1"
    wait_for("an OK dnsbl result", lambda: _first(icinga, "dnsbl", "OK"), 10, diag)
    recovered = _first(icinga, "dnsbl", "OK")
    assert recovered
    assert f"\n\n{recovered['SERVICEOUTPUT'].strip()}\n\nHost:" in text

    # 8. Exactly one PROBLEM and one RECOVERY each; Icinga had nothing to complain of.
    seen = len(icinga.results("dnsbl"))
    wait_for("2 more dnsbl checks", lambda: len(icinga.results("dnsbl")) >= seen + 2, 15, diag)
    subjects = [message_parts(m)[0]["Subject"] for m in read_mails(spool)]
    assert sorted(subjects) == sorted(
        ["[PROBLEM] DNSBL CRITICAL: mx1", "[RECOVERY] DNSBL OK: mx1"] * 2
    ), subjects
    # The graph over time: the last value Graphite got is the recovery's 0.
    last = lambda: _metrics(graphite, prefix + "listed.value")[-1:] == ["0"]  # noqa: E731
    wait_for("graphite listed.value 0", last, 10, diag)

    log = icinga.log()
    assert "Completed sending 'Recovery' notification 'mx1!dnsbl!dnsbl-mail'" in log
    assert DQS_KEY not in log
    assert not re.search(r"invalid perfdata", log, re.I), log
    problems = [ln for ln in log.splitlines() if re.search(r"\] (warning|critical)/", ln)]
    assert problems == [], "\n".join(problems)


def _first(icinga: Icinga, service: str, state: str) -> dict[str, str] | None:
    """The first PerfdataWriter record of ``service`` in ``state``."""
    for record in icinga.results(service):
        if record["SERVICESTATE"] == state:
            return record
    return None


def _metrics(graphite: GraphiteSink, path: str) -> list[str]:
    """The values Graphite received for ``path``, oldest first."""
    return [v for n, v, _ts in (line.split(" ") for line in graphite.lines) if n == path]


# ------------------------------------------------- new listings, end to end

#: Lists of the new-listings test, as (zone, severity): critical, normal, info.
ZEN, SPAMCOP, PSBL_ZONE, S5H, DRONEBL = (
    "zen.spamhaus.org", "bl.spamcop.net", "psbl.surriel.com", "all.s5h.net", "dnsbl.dronebl.org",
)  # fmt: skip

NEW_LISTINGS_OBJECTS = """
/* Only the checks the test asks for (forced checks run all the same): the
 * services keep the shipped 15m/5m intervals, the test decides when. */
object IcingaApplication "app" {
  enable_host_checks = false
  enable_service_checks = false
}
object CheckerComponent "checker" { }
object NotificationComponent "notification" { }
object FileLogger "main-log" {
  severity = "notice"
  path = LogDir + "/icinga2.log"
}
object User "postmaster" {
  email = "postmaster@example.test"
}

/* The README's host: the shipped apply rules make "dnsbl" and
 * "dnsbl-new-listings" and their mail notifications. */
object Host "mx1" {
  check_command = "dummy"
  address = "@LISTED@"
  vars.mail_server = true
  vars.dnsbl = {
    dnsbl_nameserver = [ "@RESOLVER@" ]
    dnsbl_server = [ @ZONES@ ]
  }
  vars.notification.dnsbl = { users = [ "postmaster" ] }
  vars.dnsbl_mail_sendmail = "@SENDMAIL@"
}
"""


def listing(zone: str, listed: bool) -> Zone:
    """A normal list (or zen: its XBL code) that lists LISTED or not."""
    if zone == ZEN:
        return zen(listed)
    return Zone(zone, ip4=("127.0.0.2", *([LISTED] if listed else [])))


@pytest.mark.e2e
def test_icinga_new_listings_notify_once_each(icinga2: str, tmp_path: Path) -> None:
    """The two-service pattern on a real icinga2 daemon, shipped config as is.

    List A (zen) gives one mail from dnsbl-new-listings; list B (spamcop),
    while dnsbl stays CRITICAL and silent, exactly one more; unchanged checks
    none. Two new listings in consecutive checks (CRITICAL after CRITICAL)
    mail twice (volatile); a new listing on an info list not at all.
    """
    zones = (ZEN, SPAMCOP, PSBL_ZONE, S5H, DRONEBL)
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    argv_log = tmp_path / "dnsbl.argv"
    write_plugin_wrapper(plugins / "check_dnsbl", state_dir=tmp_path / "state", argv_log=argv_log)
    spool = tmp_path / "mail.spool"
    sendmail = write_fake_sendmail(tmp_path / "sendmail", spool)
    key_file = tmp_path / "dqs.key"
    key_file.write_text(DQS_KEY + "\n")
    key_file.chmod(0o600)

    with DnsWorld([listing(z, False) for z in zones]) as world:
        body = NEW_LISTINGS_OBJECTS
        for name, value in {
            "LISTED": LISTED,
            "RESOLVER": world.resolver,
            "ZONES": ", ".join(f'"{z}"' for z in zones),
            "SENDMAIL": str(sendmail),
        }.items():
            body = body.replace(f"@{name}@", value)
        icinga = Icinga(
            tmp_path / "icinga",
            exe=icinga2,
            plugin_contrib_dir=plugins,
            includes=[ICINGA_DIR / f for f in SHIPPED_CONF],
            body=body,
            perfdata_writer=True,
            external_commands=True,
        )
        assert_clean_validation(icinga.validate(), allow=BOUNCES_UNUSED)
        try:
            with icinga:
                _new_listings(icinga, world, spool, argv_log)
        finally:
            leftovers = live_pids(str(icinga.conf))
        assert leftovers == [], f"icinga2 processes outlived the test: {leftovers}"
    print("--- the mails (shown with pytest -s) ---", *read_mails(spool), sep="\n")


def _new_listings(icinga: Icinga, world: DnsWorld, spool: Path, argv_log: Path) -> None:
    main, new = "dnsbl", "dnsbl-new-listings"
    diag = icinga.diagnostics

    def check_both() -> tuple[dict[str, str], dict[str, str]]:
        """One forced check of each service; their results (PerfdataWriter)."""
        seen = {s: len(icinga.results(s)) for s in (main, new)}
        for service in (main, new):
            icinga.check_now("mx1", service)
        done = lambda: all(len(icinga.results(s)) > n for s, n in seen.items())  # noqa: E731
        wait_for("a check of both services", done, 20, diag)
        results = {s: icinga.results(s) for s in (main, new)}
        assert all(len(r) == seen[s] + 1 for s, r in results.items()), results  # no others
        return results[main][-1], results[new][-1]

    def state(result: dict[str, str]) -> tuple[str, str]:
        return result["SERVICESTATE"], result["SERVICESTATETYPE"]

    def mails(service: str) -> list[str]:
        return mails_for(spool, service)

    def new_mails(count: int) -> list[str]:
        """Wait for ``count`` dnsbl-new-listings mails in all; return them."""
        wait_for(f"{count} new-listing mail(s)", lambda: len(mails(new)) >= count, 10, diag)
        return mails(new)

    # 0. Nothing listed: both OK, no mail.
    m, n = check_both()
    assert state(m) == state(n) == ("OK", "HARD"), (m, n)

    # 1. List A (zen, severity critical). The companion is CRITICAL and HARD
    # at once and mails; the main service goes CRITICAL SOFT (2 attempts).
    world.update(listing(ZEN, True))
    m, n = check_both()
    assert state(n) == ("CRITICAL", "HARD"), n
    assert n["SERVICEOUTPUT"].startswith(
        f"DNSBL CRITICAL - {LISTED} listed on 1 of 5 lists: {ZEN} (XBL, NEW)\n"
    ), n
    assert re.search(r"(^| )new=1;", n["SERVICEPERFDATA"]), n
    assert state(m) == ("CRITICAL", "SOFT"), m
    headers, text = message_parts(new_mails(1)[0])
    assert headers["Subject"] == "[PROBLEM] DNSBL new listing: mx1"
    assert text.startswith(
        f'PROBLEM: "{new}" on mx1 is CRITICAL.\n\n{n["SERVICEOUTPUT"].strip()}\n\nHost:'
    ), text
    assert f"{LISTED} listed on {ZEN} (NEW): 127.0.0.4 XBL" in text
    assert SPAMHAUS_DELIST in text

    # 2. Unchanged: the companion is OK again (nothing new; no RECOVERY mail);
    # the main service's retry makes its CRITICAL HARD: its one PROBLEM mail.
    m, n = check_both()
    assert state(n) == ("OK", "HARD"), n
    assert n["SERVICEOUTPUT"].startswith(
        f"DNSBL OK - {LISTED} listed on 1 of 5 lists: {ZEN} (XBL)\n"
    )
    assert state(m) == ("CRITICAL", "HARD"), m
    wait_for("the dnsbl PROBLEM mail", lambda: mails(main), 10, diag)
    assert message_parts(mails(main)[0])[0]["Subject"] == "[PROBLEM] DNSBL CRITICAL: mx1"

    # 3. List B (spamcop) too: the main service stays CRITICAL, so Icinga has
    # no change of state to tell; the companion mails once more, naming B.
    world.update(listing(SPAMCOP, True))
    m, n = check_both()
    assert state(m) == ("CRITICAL", "HARD"), m
    assert state(n) == ("CRITICAL", "HARD"), n
    assert n["SERVICEOUTPUT"].startswith(
        f"DNSBL CRITICAL - {LISTED} listed on 2 of 5 lists: {ZEN} (XBL), {SPAMCOP} (NEW)\n"
    ), n
    headers, text = message_parts(new_mails(2)[1])
    assert headers["Subject"] == "[PROBLEM] DNSBL new listing: mx1"
    assert f"{LISTED} listed on {SPAMCOP} (NEW): " in text
    assert f"{LISTED} listed on {ZEN}: 127.0.0.4" in text  # still listed, not NEW
    assert SPAMCOP_DELIST in text

    # 4. Three unchanged checks: OK and CRITICAL, no mail from either.
    for _ in range(3):
        m, n = check_both()
        assert state(m) == ("CRITICAL", "HARD"), m
        assert state(n) == ("OK", "HARD"), n
        assert re.search(r"(^| )new=0;", n["SERVICEPERFDATA"]), n
    assert (len(mails(main)), len(mails(new))) == (1, 2)

    # 5. Volatile: a new listing in each of two checks in a row (CRITICAL,
    # then CRITICAL again: no change of state) mails each.
    for count, zone in enumerate((PSBL_ZONE, S5H), start=3):
        world.update(listing(zone, True))
        m, n = check_both()
        assert state(n) == ("CRITICAL", "HARD"), n
        summary = n["SERVICEOUTPUT"].splitlines()[0]
        assert re.search(rf", {re.escape(zone)} \((\S+, )?NEW\)$", summary), summary
        assert f"{LISTED} listed on {zone} (NEW): " in new_mails(count)[-1]
    assert [state(r) for r in icinga.results(new)[-2:]] == [("CRITICAL", "HARD")] * 2

    # 6. A new listing on an info list (DroneBL) is shown, but is no alert.
    world.update(listing(DRONEBL, True))
    m, n = check_both()
    assert state(n) == ("OK", "HARD"), n
    assert f"{DRONEBL} (sample, info, NEW)" in n["SERVICEOUTPUT"], n
    m, n = check_both()  # one more: every mail of the checks above has gone out
    assert state(m) == ("CRITICAL", "HARD"), m
    assert state(n) == ("OK", "HARD"), n

    subjects = [message_parts(mail)[0]["Subject"] for mail in read_mails(spool)]
    assert (
        subjects
        == ["[PROBLEM] DNSBL new listing: mx1"]
        + ["[PROBLEM] DNSBL CRITICAL: mx1"]
        + ["[PROBLEM] DNSBL new listing: mx1"] * 3
    ), subjects
    log = icinga.log()
    sent = re.findall(r"Completed sending '(\w+)' notification '([^']+)'", log)
    assert sent == [
        ("Problem", "mx1!dnsbl-new-listings!dnsbl-new-listings-mail"),
        ("Problem", "mx1!dnsbl!dnsbl-mail"),
        *[("Problem", "mx1!dnsbl-new-listings!dnsbl-new-listings-mail")] * 3,
    ], sent
    problems = [
        ln
        for ln in log.splitlines()
        if re.search(r"\] (warning|critical)/", ln)
        and "warning/ExternalCommandListener: This feature is DEPRECATED" not in ln
    ]
    assert problems == [], "\n".join(problems)

    # Each service has its own history: the companion the file named after it,
    # the main service the plugin's default (addresses and lists hashed).
    data = icinga.root / "data" / "check_dnsbl"
    runs = argv_runs(argv_log)
    companion = [a for a in runs if "--new-listings-only" in a]
    assert len(companion) == len(runs) / 2 == len(icinga.results(new)) == 11
    own = str(data / "mx1!dnsbl-new-listings.json")
    assert all(a[a.index("--state-file") + 1] == own for a in companion)
    assert all(a[a.index("--new-listing-state") + 1] == "critical" for a in companion)
    assert not any("--state-file" in a for a in runs if a not in companion)
    files = sorted(p.name for p in data.glob("*.json"))
    assert len(files) == 2 and "mx1!dnsbl-new-listings.json" in files, files
