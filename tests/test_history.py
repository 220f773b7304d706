"""Listing history: NEW listings, "listed since", delistings, and a state
file that survives concurrency, corruption, permissions and symlinks."""

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from check_dnsbl.catalog import Catalog
from check_dnsbl.history import KEEP_DELISTED, update
from check_dnsbl.verdict import Status, TargetReport, Verdict
from tests.conftest import ROOT, Run, check_dnsbl
from tests.dnsworld import DnsWorld, Zone, require_tool

TEST_V4 = "127.0.0.2 :127.0.0.2:test"
ZEN = Zone("zen.spamhaus.org", ip4=(TEST_V4,))
SPAMCOP = Zone("bl.spamcop.net", ip4=(TEST_V4,))
LISTS = ("-s", "zen.spamhaus.org", "-s", "bl.spamcop.net")
CATALOG = Catalog.load()


def report(**statuses: Status) -> tuple[TargetReport, ...]:
    verdicts = tuple(Verdict(CATALOG.get(z.replace("_", ".")), s) for z, s in statuses.items())
    return (TargetReport("192.0.2.1", "", "ip", verdicts),)


def test_update_appear_stay_go() -> None:
    state: dict[str, dict[str, dict[str, float]]] = {}
    changes = update(state, report(zen_spamhaus_org=Status.LISTED), now=100)
    assert (changes.new, changes.since) == (
        {"192.0.2.1 zen.spamhaus.org"},
        {"192.0.2.1 zen.spamhaus.org": 100},
    )
    changes = update(state, report(zen_spamhaus_org=Status.LISTED), now=200)
    assert (changes.new, changes.since["192.0.2.1 zen.spamhaus.org"]) == (set(), 100)
    changes = update(state, report(zen_spamhaus_org=Status.UNUSABLE), now=300)
    assert (changes.delisted, state["listed"]["192.0.2.1 zen.spamhaus.org"]["last_seen"]) == (
        {},
        200,
    )  # an unusable answer neither lists nor delists
    changes = update(state, report(zen_spamhaus_org=Status.CLEAN), now=400)
    assert changes.delisted == {"192.0.2.1 zen.spamhaus.org": 100}
    assert state["delisted"] == {
        "192.0.2.1 zen.spamhaus.org": {"first_seen": 100, "delisted": 400}
    }
    changes = update(state, report(zen_spamhaus_org=Status.CLEAN), now=500)
    assert (changes.delisted, changes.earlier) == ({}, {"192.0.2.1 zen.spamhaus.org": 400})
    update(state, report(zen_spamhaus_org=Status.CLEAN), now=400 + KEEP_DELISTED + 1)
    assert state["delisted"] == {}


@pytest.fixture(scope="module")
def world() -> Iterator[DnsWorld]:
    require_tool("rbldnsd")
    require_tool("unbound")
    with DnsWorld([ZEN, SPAMCOP]) as w:
        yield w


@pytest.fixture
def clean(world: DnsWorld) -> Iterator[DnsWorld]:
    world.update(ZEN)
    world.update(SPAMCOP)
    yield world


def list_on(world: DnsWorld, zone: Zone, address: str = "198.51.100.10") -> None:
    world.update(Zone(zone.name, ip4=(*zone.ip4, f"{address} :127.0.0.2:listed")))


def check(world: DnsWorld, state: Path, *args: str) -> Run:
    return check_dnsbl(
        "-n", world.resolver, "-H", "198.51.100.10", *LISTS, "--state-file", str(state), *args
    )


def first_seen(state: Path, zone: str) -> str:
    stamp = json.loads(state.read_text())["listed"][f"198.51.100.10 {zone}"]["first_seen"]
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))


def test_listing_appears_stays_and_goes(clean: DnsWorld, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    list_on(clean, SPAMCOP)
    r = check(clean, state)
    assert r.first_line == (
        "DNSBL WARNING - 198.51.100.10 listed on 1 of 2 lists: bl.spamcop.net (NEW)"
    )
    since = first_seen(state, "bl.spamcop.net")
    assert r.long_output == [
        "198.51.100.10 listed on bl.spamcop.net (NEW): 127.0.0.2 reported as a spam source by "
        "SpamCop users (delisted automatically when reports stop); listed since "
        f'{since}; reason: "listed"; lookup/delist: https://www.spamcop.net/bl.shtml?198.51.100.10'
    ]
    assert (r.value("new"), r.value("delisted")) == ("1", "0")
    assert (state.stat().st_mode & 0o777) == 0o600

    r = check(clean, state)
    assert r.first_line == "DNSBL WARNING - 198.51.100.10 listed on 1 of 2 lists: bl.spamcop.net"
    assert f"listed since {since};" in r.long_output[0]
    assert r.value("new") == "0"

    clean.update(SPAMCOP)
    r = check(clean, state)
    assert (r.returncode, r.first_line) == (
        0,
        "DNSBL OK - 198.51.100.10 not listed on 2 lists; delisted from bl.spamcop.net",
    )
    assert r.long_output == [f"198.51.100.10 delisted from bl.spamcop.net (listed since {since})"]
    assert r.value("delisted") == "1"

    r = check(clean, state, "-v")
    assert r.first_line == "DNSBL OK - 198.51.100.10 not listed on 2 lists"
    assert r.value("delisted") == "0"
    assert any(
        re.fullmatch(r"198\.51\.100\.10 delisted from bl\.spamcop\.net on .* UTC", line)
        for line in r.long_output
    ), r.stdout


def test_two_lists_listing_at_different_times(clean: DnsWorld, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    list_on(clean, SPAMCOP)
    assert check(clean, state).first_line.endswith("bl.spamcop.net (NEW)")
    list_on(clean, ZEN)
    r = check(clean, state)
    assert r.first_line == (
        "DNSBL CRITICAL - 198.51.100.10 listed on 2 of 2 lists: zen.spamhaus.org (SBL, NEW), "
        "bl.spamcop.net"
    )
    assert r.value("new") == "1"
    assert first_seen(state, "bl.spamcop.net") <= first_seen(state, "zen.spamhaus.org")
    assert "(NEW)" not in check(clean, state).stdout


def test_new_listing_state_raises_only_the_run_that_found_it(
    clean: DnsWorld, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    list_on(clean, SPAMCOP)
    args = ("-w", "2", "-c", "3", "--new-listing-state", "critical")
    assert check(clean, state, *args).returncode == 2
    assert check(clean, state, *args).returncode == 0
    assert check(clean, state, *args).returncode == 0


def test_concurrent_runs_lose_no_update(clean: DnsWorld, tmp_path: Path) -> None:
    """Eight runs at once, three times: the file stays valid and exactly one
    run of the first wave reports the listing as NEW."""
    state = tmp_path / "state.json"
    list_on(clean, SPAMCOP)
    argv = [
        sys.executable,
        "-m",
        "check_dnsbl",
        "-n",
        clean.resolver,
        "-H",
        "198.51.100.10",
        *LISTS,
        "--state-file",
        str(state),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for wave in range(3):
        procs = [
            subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
            for _ in range(8)
        ]
        outputs = [p.communicate(timeout=60) for p in procs]
        assert all(err == "" for _, err in outputs)
        assert all(p.returncode == 1 for p in procs), outputs
        news = sum("(NEW)" in out for out, _ in outputs)
        assert news == (1 if wave == 0 else 0), outputs
        assert all("history unavailable" not in out for out, _ in outputs)
    data = json.loads(state.read_text())
    assert list(data["listed"]) == ["198.51.100.10 bl.spamcop.net"]
    assert data["version"] == 1


def test_unwritable_state_keeps_the_verdicts(clean: DnsWorld, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    list_on(clean, SPAMCOP)
    r = check(clean, blocker / "state.json")
    assert (r.returncode, r.first_line) == (
        1,
        "DNSBL WARNING - 198.51.100.10 listed on 1 of 2 lists: bl.spamcop.net",
    )
    assert r.long_output[0] == (f"history unavailable: cannot create {blocker}: File exists")
    assert "new" not in r.perfdata or r.value("new") == "0"


def test_corrupt_state_is_reset_with_a_warning(clean: DnsWorld, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json")
    list_on(clean, SPAMCOP)
    r = check(clean, state)
    assert r.first_line.endswith("bl.spamcop.net (NEW)")
    assert r.long_output[0].startswith(f"state file {state} was corrupt (")
    assert r.long_output[0].endswith(") and has been reset")
    assert json.loads(state.read_text())["format"] == "check_dnsbl-state"


def test_symlinked_state_is_never_followed(clean: DnsWorld, tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    state = tmp_path / "state.json"
    state.symlink_to(target)
    list_on(clean, SPAMCOP)
    r = check(clean, state)
    assert r.returncode == 1
    assert r.long_output[0] == (f"history unavailable: {state} is a symlink; not following it")
    assert target.read_text() == "keep me"
    assert state.is_symlink()


def test_default_state_file_is_per_service(clean: DnsWorld, tmp_path: Path) -> None:
    env = {"STATE_DIRECTORY": str(tmp_path)}
    for address in ("198.51.100.10", "192.0.2.1"):
        check_dnsbl("-n", clean.resolver, "-H", address, *LISTS, env=env)
    files = sorted(p.name for p in (tmp_path / "check_dnsbl").glob("state-*.json"))
    assert len(files) == 2, files


def test_new_listings_only_reports_only_what_is_new(clean: DnsWorld, tmp_path: Path) -> None:
    """The volatile companion service: a standing CRITICAL listing is OK here."""
    state = tmp_path / "state.json"
    list_on(clean, ZEN)
    r = check(clean, state, "--new-listings-only")
    assert (r.returncode, r.first_line) == (
        1,
        "DNSBL WARNING - 198.51.100.10 listed on 1 of 2 lists: zen.spamhaus.org (SBL, NEW)",
    )
    r = check(clean, state, "--new-listings-only")
    assert (r.returncode, r.first_line) == (
        0,
        "DNSBL OK - 198.51.100.10 listed on 1 of 2 lists: zen.spamhaus.org (SBL)",
    )
    list_on(clean, SPAMCOP)
    r = check(clean, state, "--new-listings-only", "--new-listing-state", "critical")
    assert r.returncode == 2
    assert r.first_line.endswith("bl.spamcop.net (NEW)")
    assert check_dnsbl("-H", "192.0.2.1", "--new-listings-only", "--no-state").first_line == (
        "DNSBL UNKNOWN - --new-listings-only needs the history: drop --no-state (see --help)"
    )


def test_foreign_file_is_never_overwritten(clean: DnsWorld, tmp_path: Path) -> None:
    """A mistyped --state-file pointing at some config file is left alone."""
    config = tmp_path / "main.cf"
    config.write_text("smtpd_banner = $myhostname ESMTP\n")
    list_on(clean, SPAMCOP)
    r = check(clean, config)
    assert r.returncode == 1
    assert r.long_output[0] == (
        f"history unavailable: {config} is not a check_dnsbl state file; not touching it"
    )
    assert config.read_text() == "smtpd_banner = $myhostname ESMTP\n"
