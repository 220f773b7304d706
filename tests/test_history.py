"""Listing history: NEW listings, "listed since", delistings, and a state
file that survives concurrency, corruption, bad entries, its own size, kills
and root runs, and that never harms a file at its path that is not ours
(special files, other programs' files, symlinks). Whatever happens to the
file, the verdicts stay the same."""

import atexit
import contextlib
import functools
import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from check_dnsbl.catalog import Catalog
from check_dnsbl.history import (
    CLOCK_SLACK,
    HEAD,
    KEEP_DELISTED,
    MAX_BYTES,
    MAX_ENTRIES,
    Corrupt,
    Foreign,
    State,
    dumps,
    load,
    update,
)
from check_dnsbl.model import Status, TargetReport, Verdict
from tests.conftest import ROOT, Run, check_dnsbl
from tests.dnsworld import DnsWorld, Zone, require_tool
from tests.test_files import SPECIAL, special_file

TEST_V4 = "127.0.0.2 :127.0.0.2:test"
ZEN = Zone("zen.spamhaus.org", ip4=(TEST_V4,))
SPAMCOP = Zone("bl.spamcop.net", ip4=(TEST_V4,))
LISTS = ("-s", "zen.spamhaus.org", "-s", "bl.spamcop.net")
CATALOG = Catalog.load()


def report(target: str = "192.0.2.1", **statuses: Status) -> tuple[TargetReport, ...]:
    verdicts = tuple(Verdict(CATALOG.get(z.replace("_", ".")), s) for z, s in statuses.items())
    return (TargetReport(target, "", "ip", verdicts),)


def test_an_allowlist_holds_no_listings_then_or_now() -> None:
    """An entry recorded for an allowlist before allowlists were told apart
    is dropped, never reported delisted; its hits are never NEW."""
    state = {"listed": {"192.0.2.1 list.dnswl.org": {"first_seen": 10.0, "last_seen": 20.0}}}
    changes = update(state, report(list_dnswl_org=Status.CLEAN), now=100)
    assert (changes.delisted, state["listed"], state["delisted"]) == ({}, {}, {})
    changes = update(state, report(list_dnswl_org=Status.RATED), now=200)
    assert (changes.new, state["listed"]) == (set(), {})


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


def argv(
    world: DnsWorld, state: Path, python: tuple[str, ...] = (sys.executable, "-m", "check_dnsbl")
) -> list[str]:
    """The plugin's command line for a run on ``state``, for Popen."""
    return [
        *python, "-n", world.resolver, "-H", "198.51.100.10", *LISTS, "--state-file", str(state)
    ]  # fmt: skip


def first_seen(state: Path, zone: str) -> str:
    stamp = json.loads(state.read_text())["listed"][f"198.51.100.10 {zone}"]["first_seen"]
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))


def snapshot(directory: Path) -> dict[str, tuple[int, ...]]:
    """Every name in ``directory`` with its type, mode, owner, size, mtime and device."""
    out: dict[str, tuple[int, ...]] = {}
    for name in os.listdir(directory):
        st = os.lstat(directory / name)
        out[name] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_rdev)
    return out


def spamcop_warning(r: Run) -> None:
    """The verdict a history problem must never change."""
    assert (r.returncode, r.first_line) == (
        1,
        "DNSBL WARNING - 198.51.100.10 listed on 1 of 2 lists: bl.spamcop.net",
    ), r.stdout


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
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for wave in range(3):
        procs = [
            subprocess.Popen(
                argv(clean, state),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
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
    assert os.listdir(tmp_path) == ["state.json"]  # no lock file, no temporary file


def test_unwritable_state_keeps_the_verdicts(clean: DnsWorld, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    list_on(clean, SPAMCOP)
    r = check(clean, blocker / "state.json")
    spamcop_warning(r)
    assert r.long_output[0] == (f"history unavailable: cannot create {blocker}: File exists")
    assert "new" not in r.perfdata or r.value("new") == "0"


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


def test_no_state_directory_costs_only_the_history(
    clean: DnsWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hostile environment: relative $HOME and $XDG_STATE_HOME (a user
    unknown to the system, without $HOME, is the same) never writes into the
    working directory, and never changes the verdict."""
    monkeypatch.chdir(tmp_path)
    list_on(clean, SPAMCOP)
    env = {"STATE_DIRECTORY": "", "XDG_STATE_HOME": "state", "HOME": "home"}
    r = check_dnsbl("-n", clean.resolver, "-H", "198.51.100.10", *LISTS, env=env)
    spamcop_warning(r)
    assert r.long_output[0] == (
        "history unavailable: no state directory ($STATE_DIRECTORY, $XDG_STATE_HOME and $HOME "
        "are unset or relative); set one, or give --state-file"
    )
    assert os.listdir(tmp_path) == []
    env = {"STATE_DIRECTORY": f"{tmp_path}/a:{tmp_path}/b"}  # systemd, several directories
    check_dnsbl("-n", clean.resolver, "-H", "198.51.100.10", *LISTS, env=env)
    assert [p.parent.parent.name for p in tmp_path.glob("*/check_dnsbl/state-*.json")] == ["a"]


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


# --- The state file is the admin's before it is ours ----------------------------------------


# a directory is a usage error: test_the_state_path_must_name_a_file
@pytest.mark.parametrize("kind", [k for k in SPECIAL if k != "a directory"])
def test_special_files_are_refused_and_left_as_they_are(
    clean: DnsWorld, tmp_path: Path, kind: str
) -> None:
    """A FIFO is never opened (it would block), a device never replaced."""
    node = special_file(tmp_path, kind)
    before = snapshot(tmp_path)
    list_on(clean, SPAMCOP)
    r = check(clean, node)
    spamcop_warning(r)
    assert r.long_output[0] == (
        f"history unavailable: {node} is not a regular file ({kind}); not touching it"
    )
    assert snapshot(tmp_path) == before  # no lock file, no temporary file, same node


FOREIGN = {
    "config": (b"smtpd_banner = $myhostname ESMTP\n", "is not a check_dnsbl state file"),
    "passwd": (b"root:x:0:0:root:/root:/bin/bash\n", "is not a check_dnsbl state file"),
    "grafana": (b'{"app": "grafana", "listed": {}}\n', "is not a check_dnsbl state file"),
    "array": (b"[1, 2, 3]\n", "is not a check_dnsbl state file"),
    "binary": (b"\xff\xfe\x00garbage", "is not a check_dnsbl state file"),
    "newer": (
        b'{"format": "check_dnsbl-state", "version": 2, "listed": {}, "delisted": {}}\n',
        "is a check_dnsbl state file of format version 2, not 1",
    ),
    "newer, damaged": (
        b'{"format": "check_dnsbl-state", "version": 2, "listed": {',
        "is not a check_dnsbl state file",
    ),
}


@pytest.mark.parametrize("name", FOREIGN)
def test_foreign_files_are_left_alone(clean: DnsWorld, tmp_path: Path, name: str) -> None:
    """Never rewritten, reset or chmod'ed, and nothing created beside them."""
    content, why = FOREIGN[name]
    path = tmp_path / name
    path.write_bytes(content)
    path.chmod(0o644)
    before = snapshot(tmp_path)
    list_on(clean, SPAMCOP)
    r = check(clean, path)
    spamcop_warning(r)
    assert r.long_output[0] == f"history unavailable: {path} {why}; not touching it"
    assert path.read_bytes() == content
    assert snapshot(tmp_path) == before


def test_nothing_is_left_beside_our_own_file(clean: DnsWorld, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    list_on(clean, SPAMCOP)
    for _ in range(3):
        check(clean, state)
    assert os.listdir(tmp_path) == ["state.json"]


def test_corrupt_state_is_reset_keeping_a_copy(clean: DnsWorld, tmp_path: Path) -> None:
    """Only a file that begins as ours does is ours; the damaged bytes stay."""
    state = tmp_path / "state.json"
    damaged = HEAD + b' "listed": {"198.51.100.10 bl.spamcop.net": {"first_seen": 1'
    state.write_bytes(damaged)
    state.chmod(0o640)
    list_on(clean, SPAMCOP)
    r = check(clean, state)
    assert r.first_line.endswith("bl.spamcop.net (NEW)")
    (copy,) = (p for p in tmp_path.iterdir() if p != state)
    assert re.fullmatch(r"state\.json\.corrupt-[0-9a-f]{12}", copy.name)
    with pytest.raises(ValueError) as why:
        json.loads(damaged)
    assert r.long_output[0] == (
        f"state file {state} was corrupt ({why.value}) and has been reset; "
        f"the damaged copy is {copy}"
    )
    assert copy.read_bytes() == damaged
    assert json.loads(state.read_text())["format"] == "check_dnsbl-state"
    assert (state.stat().st_mode & 0o777, copy.stat().st_mode & 0o777) == (0o640, 0o640)
    assert "corrupt" not in check(clean, state).stdout

    state.write_bytes(damaged)  # the same damage again: kept once
    assert check(clean, state).long_output[0].endswith(f"the damaged copy is {copy}")
    assert sorted(os.listdir(tmp_path)) == ["state.json", copy.name]

    other = damaged + b"!"  # something else where its copy would go: no reset
    state.write_bytes(other)
    blocker = tmp_path / f"state.json.corrupt-{hashlib.sha256(other).hexdigest()[:12]}"
    os.mkfifo(blocker)
    with pytest.raises(ValueError) as why:
        json.loads(other)
    r = check(clean, state)
    spamcop_warning(r)
    assert r.long_output[0] == (
        f"history unavailable: {state} is corrupt ({why.value}), "
        f"and {blocker} is in the way; not resetting it"
    )
    assert state.read_bytes() == other


def test_bad_entries_are_dropped_and_the_rest_kept(clean: DnsWorld, tmp_path: Path) -> None:
    """Each of these once made every run UNKNOWN, for good."""
    state = tmp_path / "state.json"
    good = {"first_seen": 1_700_000_000.0, "last_seen": 1_700_000_100.0}
    other = "198.51.100.10 zen.spamhaus.org"
    state.write_text(
        HEAD.decode()
        + ' "listed": {"198.51.100.10 bl.spamcop.net": '
        + json.dumps(good)
        + ', "198.51.100.11 zen.spamhaus.org": {"first_seen": 1e300, "last_seen": 1e300}'
        + f', "{other}": {{"first_seen": Infinity, "last_seen": NaN}}'
        + ', "198.51.100.12 zen.spamhaus.org": {"first_seen": -1e20, "last_seen": 5}'
        + ', "198.51.100.13 zen.spamhaus.org": {"last_seen": 5}'
        + ', "198.51.100.14": {"first_seen": 5, "last_seen": 5}'
        + ', "198.51.100.15 zen.spamhaus.org": {"first_seen": 9, "last_seen": 5}'
        + '}, "delisted": []}\n'
    )
    list_on(clean, SPAMCOP)
    r = check(clean, state)
    spamcop_warning(r)  # not NEW: the good entry was kept
    assert r.long_output[0] == (
        f'state file {state}: "delisted" was not an object; dropped 3 entries (time out of '
        "range), 1 entry (missing or unknown fields), 1 entry (malformed key), 1 entry "
        "(times out of order); rewritten without them"
    )
    assert "listed since 2023-11-14 22:13 UTC;" in r.long_output[1]
    (k, kept), *others = json.loads(state.read_text())["listed"].items()
    assert (k, kept["first_seen"], others) == ("198.51.100.10 bl.spamcop.net", 1.7e9, [])
    assert check(clean, state).long_output[0].startswith("198.51.100.10 listed on bl.spamcop")


def test_a_full_history_still_reads_back(clean: DnsWorld, tmp_path: Path) -> None:
    """At MAX_ENTRIES nothing more is recorded, with a note; the file the run
    writes at that bound is read back by the next run."""
    state = tmp_path / "state.json"
    now = time.time()
    full: State = {
        "listed": {
            f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255} zen.spamhaus.org": {
                "first_seen": now - 60,
                "last_seen": now - 60,
            }
            for i in range(MAX_ENTRIES - 1)
        },
        "delisted": {},
    }
    state.write_bytes(dumps(full))
    clean.update(Zone(SPAMCOP.name, ip4=(*SPAMCOP.ip4, "198.51.100.8/30 :127.0.0.2:listed")))
    clean.update(Zone(ZEN.name, ip4=(*ZEN.ip4, "198.51.100.8/30 :127.0.0.2:listed")))
    args = ("-n", clean.resolver, "-H", "198.51.100.8/30", *LISTS, "--state-file", str(state))
    r = check_dnsbl(*args)
    assert r.first_line.startswith("DNSBL CRITICAL - 4 of 4 addresses listed: 198.51.100.8 on ")
    assert r.value("new") == "1"  # one entry of room: the first listing found
    assert r.long_output[0] == (
        f"history full ({MAX_ENTRIES} entries): 7 listings not recorded (never shown as NEW)"
    )
    data = json.loads(state.read_bytes())
    assert len(data["listed"]) == MAX_ENTRIES
    r = check_dnsbl(*args)
    assert r.value("new") == "0"
    assert r.long_output[0] == (
        f"history full ({MAX_ENTRIES} entries): 7 listings not recorded (never shown as NEW)"
    )


def test_the_state_path_must_name_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'' once made ``..lock`` in the working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir").mkdir()
    for text in ("", "dir", "dir/", "new/", ".", "..", "dir/.", "/"):
        r = check_dnsbl("-H", "192.0.2.1", "--state-file", text)
        why = f"{text} names a directory" if text else "an empty path"
        assert (r.returncode, r.lines) == (
            3,
            [f"DNSBL UNKNOWN - argument --state-file: {why}; give a file name (see --help)"],
        ), text
    ini = tmp_path / "plugins.ini"
    for line, why in (
        (b"", "an empty path; give a file name"),
        (b"a\0b", "the path holds a NUL byte"),
    ):
        ini.write_bytes(b"[rbl]\nstate-file=" + line + b"\n")
        r = check_dnsbl("-H", "192.0.2.1", f"--extra-opts=rbl@{ini}")
        assert r.lines == [f"DNSBL UNKNOWN - argument --state-file: {why} (see --help)"]
    assert sorted(os.listdir(tmp_path)) == ["dir", "plugins.ini"]
    assert os.listdir(tmp_path / "dir") == []


# --- Owners: a root run by hand must not lock the monitoring user out ------------------------

ROOT_NEEDED = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as two users")


def monitoring_user() -> pwd.struct_passwd:
    """nagios where it exists (Debian's Icinga and Nagios), else nobody."""
    for name in ("nagios", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise AssertionError("no nagios or nobody user")


@functools.cache
def readable_package() -> Path:
    """A copy of the package that every user may read, to put on PYTHONPATH:
    a checkout under a 0700 directory (``mktemp -d``, /root) is out of the
    monitoring user's reach, and CI's clone may be one."""
    base = Path(tempfile.mkdtemp(prefix="check_dnsbl-pkg-"))
    atexit.register(shutil.rmtree, base, True)
    shutil.copytree(
        ROOT / "check_dnsbl", base / "check_dnsbl", ignore=shutil.ignore_patterns("__pycache__")
    )
    for path in [base, *base.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return base


def run_as(user: pwd.struct_passwd | None, world: DnsWorld, state: Path) -> Run:
    """A run as ``user`` (None: as root), as a monitoring core would start it,
    with this interpreter where the user may run it (a venv under /root is
    out of its reach), else Debian's, on a copy of the package it may read."""
    who = {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    python = sys.executable
    try:
        subprocess.run([python, "-c", ""], check=True, **who)  # type: ignore[call-overload]
    except (PermissionError, subprocess.CalledProcessError):
        python = "/usr/bin/python3"
    proc = subprocess.run(
        argv(world, state, (python, "-m", "check_dnsbl")),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(readable_package())},
        check=False,
        cwd="/",
        **who,
    )  # type: ignore[call-overload]
    assert (proc.stderr, proc.returncode in (0, 1, 2, 3)) == ("", True), proc
    return Run(proc.returncode, proc.stdout)


@pytest.fixture
def user_dir(tmp_path: Path) -> Iterator[tuple[pwd.struct_passwd, Path]]:
    """A directory the monitoring user owns (0700), outside pytest's 0700 tree."""
    user = monitoring_user()
    directory = Path(tempfile.mkdtemp(prefix="check_dnsbl-test-"))
    os.chown(directory, user.pw_uid, user.pw_gid)
    yield user, directory
    shutil.rmtree(directory)


def owner(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid, st.st_mode & 0o777


@ROOT_NEEDED
def test_root_keeps_the_monitoring_users_file(
    clean: DnsWorld, user_dir: tuple[pwd.struct_passwd, Path]
) -> None:
    user, directory = user_dir
    state = directory / "state.json"
    mine = (user.pw_uid, user.pw_gid, 0o600)
    list_on(clean, SPAMCOP)
    assert run_as(user, clean, state).first_line.endswith("bl.spamcop.net (NEW)")
    assert owner(state) == mine
    since = first_seen(state, "bl.spamcop.net")
    r = run_as(None, clean, state)
    spamcop_warning(r)
    assert owner(state) == mine
    r = run_as(user, clean, state)
    spamcop_warning(r)
    assert f"listed since {since};" in r.long_output[0]
    assert (owner(state), os.listdir(directory)) == (mine, ["state.json"])


@ROOT_NEEDED
def test_a_file_root_creates_belongs_to_the_directorys_owner(
    clean: DnsWorld, user_dir: tuple[pwd.struct_passwd, Path]
) -> None:
    user, directory = user_dir
    state = directory / "check_dnsbl" / "state.json"
    list_on(clean, SPAMCOP)
    assert run_as(None, clean, state).first_line.endswith("bl.spamcop.net (NEW)")
    assert owner(state.parent) == (user.pw_uid, user.pw_gid, 0o700)
    assert owner(state) == (user.pw_uid, user.pw_gid, 0o600)
    spamcop_warning(run_as(user, clean, state))


@ROOT_NEEDED
def test_an_owner_that_cannot_be_kept_is_not_overwritten(clean: DnsWorld, tmp_path: Path) -> None:
    """The user may replace root's file in a shared directory, but could not
    give the new one root as its owner: it says so and writes nothing."""
    user = monitoring_user()
    directory = Path(tempfile.mkdtemp(prefix="check_dnsbl-test-"))
    try:
        directory.chmod(0o777)
        state = directory / "state.json"
        list_on(clean, SPAMCOP)
        run_as(None, clean, state)
        state.chmod(0o644)
        before = (state.read_bytes(), snapshot(directory))
        r = run_as(user, clean, state)
        spamcop_warning(r)
        assert r.long_output[0] == (
            f"history unavailable: {state} belongs to root:root; this run "
            f"({user.pw_name}:{grp.getgrgid(user.pw_gid).gr_name}) cannot give a new copy "
            "that owner, so it does not rewrite it"
        )
        assert (state.read_bytes(), snapshot(directory)) == before
    finally:
        shutil.rmtree(directory)


# --- Kills: Icinga sends SIGTERM at its timeout ------------------------------------------------

#: The plugin, killed by ``sig`` inside the write: after the temporary file
#: is written, before it is renamed (os.fsync runs only there).
KILLED_IN_WRITE = """
import os, runpy, signal
fsync = os.fsync
def killed(fd):
    os.kill(os.getpid(), signal.{sig})
    fsync(fd)
os.fsync = killed
runpy.run_module("check_dnsbl", run_name="__main__")
"""


def killed_in_write(world: DnsWorld, state: Path, sig: str) -> subprocess.CompletedProcess[str]:
    python = (sys.executable, "-c", KILLED_IN_WRITE.format(sig=sig))
    return subprocess.run(
        argv(world, state, python),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )


def test_sigterm_waits_until_the_file_is_whole(clean: DnsWorld, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    check(clean, state)
    list_on(clean, SPAMCOP)
    proc = killed_in_write(clean, state, "SIGTERM")
    assert (proc.returncode, proc.stdout, proc.stderr) == (-signal.SIGTERM, "", "")
    assert list(json.loads(state.read_text())["listed"]) == ["198.51.100.10 bl.spamcop.net"]
    assert os.listdir(tmp_path) == ["state.json"]


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_killed_writers_leftover_is_removed(clean: DnsWorld, tmp_path: Path) -> None:
    """SIGKILL cannot wait: the next run removes the temporary file, and only
    ours: our name pattern, a regular file, a writer that is gone."""
    state = tmp_path / "state.json"
    check(clean, state)
    before = state.read_bytes()
    list_on(clean, SPAMCOP)
    proc = killed_in_write(clean, state, "SIGKILL")
    assert (proc.returncode, proc.stderr) == (-signal.SIGKILL, "")
    (leftover,) = set(os.listdir(tmp_path)) - {"state.json"}
    assert re.fullmatch(r"\.state\.json\.\d+\.tmp", leftover)
    assert state.read_bytes() == before
    gone = dead_pid()
    kept = [
        f".state.json.{os.getpid()}.tmp",  # a live writer (this test)
        ".state.json.tmp",
        f".state.json.{gone}.tmp.bak",
        f".other.json.{gone}.tmp",
        f"state.json.{gone}.tmp",
    ]
    for name in kept:
        (tmp_path / name).write_text("not ours to remove")
    (tmp_path / f".state.json.{gone}.tmp").mkdir()  # not a regular file
    kept.append(f".state.json.{gone}.tmp")
    r = check(clean, state)
    assert r.first_line.endswith("bl.spamcop.net (NEW)")
    assert sorted(os.listdir(tmp_path)) == sorted([*kept, "state.json"])


# --- Pure parts: load, update, dumps ---------------------------------------------------------

NOW = 1_800_000_000.0


def raw_state(listed: str = "{}", delisted: str = "{}", tail: str = "") -> bytes:
    return HEAD + f' "listed": {listed}, "delisted": {delisted}{tail}}}'.encode()


FIELDS_OK = '{"first_seen": 1, "last_seen": 2}'


@pytest.mark.parametrize(
    ("k", "fields", "why"),
    [
        ("a.b z.example", '{"first_seen": 1}', "missing or unknown fields"),
        ("a.b z.example", '{"first_seen": 1, "last_seen": 2, "x": 3}',
         "missing or unknown fields"),
        ("a.b z.example", "[1, 2]", "missing or unknown fields"),
        ("a.b z.example", '{"first_seen": 1e300, "last_seen": 1e300}', "time out of range"),
        ("a.b z.example", '{"first_seen": Infinity, "last_seen": 2}', "time out of range"),
        ("a.b z.example", '{"first_seen": NaN, "last_seen": 2}', "time out of range"),
        ("a.b z.example", '{"first_seen": -1e20, "last_seen": 2}', "time out of range"),
        ("a.b z.example", '{"first_seen": "1", "last_seen": 2}', "time out of range"),
        ("a.b z.example", '{"first_seen": true, "last_seen": 2}', "time out of range"),
        ("a.b z.example", '{"first_seen": null, "last_seen": 2}', "time out of range"),
        ("a.b z.example", f'{{"first_seen": 1{"0" * 5000}, "last_seen": 2}}', "time out of range"),
        ("a.b z.example", f'{{"first_seen": 1, "last_seen": {NOW + 2 * CLOCK_SLACK}}}',
         "time out of range"),
        ("a.b z.example", '{"first_seen": 3, "last_seen": 2}', "times out of order"),
        ("a.b", FIELDS_OK, "malformed key"),
        ("a.b z example", FIELDS_OK, "malformed key"),
        ("a|b z.example", FIELDS_OK, "malformed key"),
        ("a\\nb z.example", FIELDS_OK, "malformed key"),
        ("", FIELDS_OK, "malformed key"),
        (f"{'a' * 254} z.example", FIELDS_OK, "malformed key"),
    ],
)  # fmt: skip
def test_load_drops_a_bad_entry_and_keeps_the_rest(k: str, fields: str, why: str) -> None:
    good = '"192.0.2.1 zen.spamhaus.org": {"first_seen": 10, "last_seen": 20}'
    state, notes = load(raw_state(f'{{"{k}": {fields}, {good}}}'), NOW)
    assert state == {
        "listed": {"192.0.2.1 zen.spamhaus.org": {"first_seen": 10, "last_seen": 20}},
        "delisted": {},
    }
    assert notes == [f"dropped 1 entry ({why})"]


def test_load_repairs_what_it_can() -> None:
    listed = (
        '{"192.0.2.1 a.example": {"first_seen": 1, "last_seen": 2},'
        ' "192.0.2.1 a.example": {"first_seen": 5, "last_seen": 6},'
        f' "192.0.2.2 a.example": {{"first_seen": 1, "last_seen": {NOW + 60}}}}}'
    )
    delisted = '{"192.0.2.1 a.example": {"first_seen": 1, "delisted": 2}}'
    state, notes = load(raw_state(listed, delisted, ', "extra": 1'), NOW)
    assert state == {
        "listed": {
            "192.0.2.1 a.example": {"first_seen": 1, "last_seen": 2},  # the first of two
            "192.0.2.2 a.example": {"first_seen": 1, "last_seen": NOW},  # clock stepped back
        },
        "delisted": {},
    }
    assert notes == [
        "dropped 1 entry (also listed)",
        "1 duplicate key (the first kept)",
        "unknown fields dropped",
    ]
    assert load(raw_state("[]", '"x"'), NOW) == (
        {"listed": {}, "delisted": {}},
        ['"listed" was not an object', '"delisted" was not an object'],
    )
    assert load(b"", NOW) == load(b" \n", NOW) == ({"listed": {}, "delisted": {}}, [])


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"app": "grafana"}',
        b'{"format": "check_dnsbl-state", "version": 2, "listed": {}}',
        b'{"format": "check_dnsbl-state", "version": "1"}',
        b'{"format": "check_dnsbl-state", "version": true}',
        b'{"format": "check_dnsbl-state"}',
        b"[" * 100_000,
        b"x" * (MAX_BYTES + 1),
    ],
)
def test_load_refuses_what_is_not_provably_ours(raw: bytes) -> None:
    with pytest.raises(Foreign):
        load(raw, NOW)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (HEAD + b' "listed": {', "Expecting property name enclosed in double quotes"),
        (HEAD + b' "listed": ' + b"[" * 100_000, "maximum recursion depth exceeded"),
        (HEAD + b" " * MAX_BYTES, "larger than 16 MiB"),
        (HEAD + b' "listed": "\xff"}', "invalid start byte"),
    ],
)
def test_load_calls_a_damaged_file_of_ours_corrupt(raw: bytes, why: str) -> None:
    with pytest.raises(Corrupt, match=why):
        load(raw, NOW)


def test_cap_round_trips() -> None:
    """MAX_ENTRIES of the longest entries a key and a float can make fit in
    MAX_BYTES, and read back unchanged: what is written always reads back."""
    longest_float = max(len(repr(x)) for x in (-1.2345678901234567e-308, 1.2345678901234567e-05))
    assert longest_float == 24  # no finite float's repr is longer
    state: State = {
        "listed": {
            f"{i:0253d} {'z' * 253}": {"first_seen": 1.2345678901234567e-05, "last_seen": NOW}
            for i in range(MAX_ENTRIES // 2)
        },
        "delisted": {
            f"{i:0253d} {'y' * 253}": {"first_seen": 1.2345678901234567e-05, "delisted": NOW}
            for i in range(MAX_ENTRIES - MAX_ENTRIES // 2)
        },
    }
    raw = dumps(state)
    entry = len(json.dumps({"k" * 507: {"first_seen": 0.0, "last_seen": 0.0}})) + 2 * 24
    assert len(raw) <= MAX_ENTRIES * entry + 100 <= MAX_BYTES
    assert load(raw, NOW) == (state, [])


def test_update_at_the_cap_forgets_old_delistings_then_records_nothing() -> None:
    state: State = {
        "listed": {
            f"10.0.{i >> 8}.{i & 255} zen.spamhaus.org": {"first_seen": 1, "last_seen": 1}
            for i in range(MAX_ENTRIES - 2)
        },
        "delisted": {
            "10.9.9.1 zen.spamhaus.org": {"first_seen": 1, "delisted": NOW - 20},
            "10.9.9.2 zen.spamhaus.org": {"first_seen": 1, "delisted": NOW - 10},
        },
    }
    changes = update(state, report(zen_spamhaus_org=Status.LISTED), NOW)
    assert changes.new == {"192.0.2.1 zen.spamhaus.org"}
    assert list(state["delisted"]) == ["10.9.9.2 zen.spamhaus.org"]  # the older one went
    assert changes.warning == f"history full ({MAX_ENTRIES} entries): 1 oldest delisting forgotten"
    grown = report("192.0.2.2", zen_spamhaus_org=Status.LISTED)
    changes = update(state, grown + report("192.0.2.3", zen_spamhaus_org=Status.LISTED), NOW)
    assert (changes.new, changes.since) == (
        {"192.0.2.2 zen.spamhaus.org"},
        {"192.0.2.2 zen.spamhaus.org": NOW},
    )
    assert changes.warning == (
        f"history full ({MAX_ENTRIES} entries): 1 oldest delisting forgotten, "
        "1 listing not recorded (never shown as NEW)"
    )
    assert sum(map(len, state.values())) == MAX_ENTRIES
