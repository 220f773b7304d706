"""Listing history across runs: what is NEW, since when, and what was delisted.

A small JSON state file per service (its name hashes the targets and lists,
so other services never clash), read and rewritten after the DNS work, never
during it. The path is the admin's, and may name anything, so:

- only a regular file is opened, never through a symlink, never blocking
  (``configfile.open_regular``): a FIFO, device or socket is refused in words;
- only a file that is provably ours is rewritten: a JSON object with our
  format name and version, or an empty file. Another program's file, or a
  newer format, is left alone. A file that begins as ours (``HEAD``) but does
  not parse is reset, and the damaged copy is kept beside it (a hard link);
- every entry is checked on load: a bad one is dropped with a note, the rest
  kept; at most MAX_ENTRIES entries are kept, so what is written reads back;
- the lock is an flock on the state file itself, waited for only until the
  run's deadline: there is no lock file to leave behind, or to create beside
  a file that is not ours. Writers replace the file by rename, so a run that
  was waiting checks that the file it locked is still the one at the path.
  A missing file is first created empty (O_EXCL), then filled like any other;
- the new file is written atomically (temporary file, fsync, rename) with the
  owner, group and mode of the one it replaces; when that owner cannot be
  kept, nothing is written. A new file is 0600; as root it (and any directory
  made for it) gets the owner of the directory it is made in. SIGTERM and
  SIGINT wait while the temporary file exists; one left by a killed run
  (SIGKILL) is removed by the next.

Any problem costs the history, never a verdict: ``record`` returns it as a
line for the long output.

Format (``"version": 1``)::

    {"format": "check_dnsbl-state", "version": 1,
     "listed":   {"<target> <zone>": {"first_seen": <unix time>, "last_seen": <unix time>}},
     "delisted": {"<target> <zone>": {"first_seen": <unix time>, "delisted": <unix time>}}}

Delistings are kept for 30 days, so they can be followed up.
"""

import fcntl
import grp
import hashlib
import json
import math
import os
import pwd
import re
import signal
import stat
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from check_dnsbl.configfile import NotRegular, open_regular, read_bounded
from check_dnsbl.model import Changes, Status, TargetReport

FORMAT, VERSION = "check_dnsbl-state", 1
#: How every file we write begins: a file that begins so is ours.
HEAD = json.dumps({"format": FORMAT, "version": VERSION})[:-1].encode() + b","
#: Most entries (listed + delisted) kept; see test_cap_round_trips for why
#: MAX_ENTRIES of the longest entries still fit in MAX_BYTES.
MAX_ENTRIES = 20_000
MAX_BYTES = 16 << 20
KEEP_DELISTED = 30 * 86400
#: Times up to this far ahead (a clock stepped back) are taken as now.
CLOCK_SLACK = 86400
FIELDS = {"listed": ("first_seen", "last_seen"), "delisted": ("first_seen", "delisted")}
_NAME = r"[0-9A-Za-z_.:-]{1,253}"  # an IPv4/IPv6 address or a DNS name
_KEY = re.compile(rf"{_NAME} {_NAME}")

State = dict[str, dict[str, dict[str, float]]]


def default_path(targets: list[str], zones: list[str]) -> Path:
    """A file per service: $STATE_DIRECTORY (systemd; the first of several),
    else $XDG_STATE_HOME, else ~/.local/state, under check_dnsbl/, named by a
    hash of what is checked. Relative values are ignored, as XDG says; with
    no absolute one (no $HOME, a user unknown to the system) the path is
    relative, and ``record`` refuses it in words."""
    bases = (
        os.environ.get("STATE_DIRECTORY", "").split(":")[0],
        os.environ.get("XDG_STATE_HOME", ""),
        os.path.join(os.path.expanduser("~"), ".local", "state"),  # "~" when unknown
    )
    root = next((b for b in bases if os.path.isabs(b)), "")
    digest = hashlib.sha256("\n".join([*targets, "--", *sorted(zones)]).encode()).hexdigest()
    return Path(root, "check_dnsbl", f"state-{digest[:16]}.json")


def state_path(text: str) -> Path:
    """A --state-file value, made absolute; ValueError when it cannot name a
    file of ours."""
    if not text:
        raise ValueError("an empty path; give a file name")
    if "\0" in text:
        raise ValueError("the path holds a NUL byte")
    if text.rsplit("/", 1)[-1] in ("", ".", "..") or os.path.isdir(text):
        raise ValueError(f"{text} names a directory; give a file name")
    return Path(os.path.abspath(text))


def key(target: str, zone: str) -> str:
    """The state file's key of a (target, zone) pair; ``split_key`` undoes it."""
    return f"{target} {zone}"


def split_key(k: str) -> tuple[str, str]:
    target, zone = k.split(" ", 1)
    return target, zone


def update(state: State, reports: tuple[TargetReport, ...], now: float) -> Changes:
    """Fold this run's verdicts into ``state`` (in place). Pure: no I/O.

    Only a usable answer changes the history: an unusable list neither
    delists nor lists anything. At MAX_ENTRIES the oldest delistings make
    room; past that a listing is not recorded (so never NEW), with a note.
    """
    listed, delisted = state.setdefault("listed", {}), state.setdefault("delisted", {})
    for k in [k for k, e in delisted.items() if now - e["delisted"] > KEEP_DELISTED]:
        del delisted[k]
    oldest = iter(sorted(delisted, key=lambda k: delisted[k]["delisted"]))
    changes, unrecorded, forgotten = Changes(), 0, 0
    for report in reports:
        for verdict in report.verdicts:
            k = key(report.target, verdict.dnsbl.zone)
            if verdict.status is Status.LISTED:
                delisted.pop(k, None)
                entry = listed.get(k)
                if entry is None:
                    while len(listed) + len(delisted) >= MAX_ENTRIES:
                        gone = next(oldest, None)  # this run's delistings stay: they are news
                        if gone is None:
                            break
                        forgotten += delisted.pop(gone, None) is not None
                    if len(listed) + len(delisted) >= MAX_ENTRIES or not _KEY.fullmatch(k):
                        unrecorded += 1
                        continue
                    entry = listed[k] = {"first_seen": now, "last_seen": now}
                    changes.new.add(k)
                entry["last_seen"] = now
                changes.since[k] = entry["first_seen"]
            elif verdict.status is Status.CLEAN and k in listed:
                first = listed.pop(k)["first_seen"]
                delisted[k] = {"first_seen": first, "delisted": now}
                changes.delisted[k] = first
    changes.earlier = {k: e["delisted"] for k, e in delisted.items() if k not in changes.delisted}
    lost = [
        _n(forgotten, "oldest delisting", "oldest delistings") + " forgotten" if forgotten else "",
        _n(unrecorded, "listing", "listings") + " not recorded (never shown as NEW)"
        if unrecorded
        else "",
    ]
    if any(lost):
        changes.warning = f"history full ({MAX_ENTRIES} entries): " + ", ".join(filter(None, lost))
    return changes


class Foreign(ValueError):
    """Not provably a state file of ours (version 1): never touched."""


class Corrupt(ValueError):
    """Ours by its first bytes, but unreadable: reset, keeping a copy."""


def load(raw: bytes, now: float) -> tuple[State, list[str]]:
    """The state in ``raw`` and what had to be dropped from it, in words.
    Pure. Foreign or Corrupt when there is no state to read."""
    if not raw.strip():
        return {name: {} for name in FIELDS}, []
    duplicates = 0

    def first_wins(pairs: list[tuple[str, object]]) -> dict[str, object]:
        nonlocal duplicates
        out: dict[str, object] = {}
        for k, v in pairs:
            duplicates += k in out
            out.setdefault(k, v)
        return out

    try:
        if len(raw) > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES >> 20} MiB")
        # parse_int=float: a 5000-digit number is inf (dropped below), not a ValueError
        data = json.loads(raw, object_pairs_hook=first_wins, parse_int=float)
    except (ValueError, RecursionError) as exc:  # RecursionError: [[[[...]]]]
        if raw.startswith(HEAD):
            raise Corrupt(str(exc)) from None
        raise Foreign("is not a check_dnsbl state file") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise Foreign("is not a check_dnsbl state file")
    version = data.get("version")
    if type(version) is not float or version != VERSION:
        shown = f"{version:g}" if type(version) is float else f"{version!r:.20}"
        raise Foreign(f"is a check_dnsbl state file of format version {shown}, not {VERSION}")
    state: State = {}
    dropped: Counter[str] = Counter()
    notes = [
        f'"{name}" was not an object'
        for name in FIELDS
        if not isinstance(data.get(name, {}), dict)
    ]
    for name, fields in FIELDS.items():
        section = data.get(name)
        state[name] = kept = {}
        for k, entry in section.items() if isinstance(section, dict) else ():
            why = _flaw(k, entry, fields, now)
            if not why and name == "delisted" and k in state["listed"]:
                why = "also listed"
            if not why and sum(map(len, state.values())) >= MAX_ENTRIES:
                why = f"over the cap of {MAX_ENTRIES}"
            if why:
                dropped[why] += 1
            else:
                kept[k] = {f: min(entry[f], now) for f in fields}
    if dropped:
        notes.append(
            "dropped "
            + ", ".join(f"{_n(n, 'entry', 'entries')} ({why})" for why, n in dropped.items())
        )
    if duplicates:
        notes.append(_n(duplicates, "duplicate key", "duplicate keys") + " (the first kept)")
    if set(data) - {"format", "version", *FIELDS}:
        notes.append("unknown fields dropped")
    return state, notes


def _n(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _flaw(k: str, entry: object, fields: tuple[str, str], now: float) -> str:
    """Why an entry cannot be kept, or "" when it can."""
    if not _KEY.fullmatch(k):
        return "malformed key"
    if not isinstance(entry, dict) or set(entry) != set(fields):
        return "missing or unknown fields"
    values = [entry[f] for f in fields]
    if not all(
        type(v) is float and math.isfinite(v) and 0 <= v <= now + CLOCK_SLACK for v in values
    ):
        return "time out of range"
    if values[0] > values[1]:
        return "times out of order"
    return ""


def dumps(state: State) -> bytes:
    """The file's bytes: HEAD first, then the entries, sorted."""
    body = {"format": FORMAT, "version": VERSION}
    text = json.dumps(
        {**body, **{name: dict(sorted(state.get(name, {}).items())) for name in FIELDS}}
    )
    return f"{text}\n".encode()


class Unavailable(Exception):
    """Why this run has no history; the message follows "history unavailable: "."""


def record(path: Path, reports: tuple[TargetReport, ...], until: float) -> Changes:
    """Read, update and rewrite the state file; the history problem in words
    instead of an exception, so verdicts never depend on the state file."""
    try:
        return _record(path, reports, until, time.time())
    except Unavailable as exc:
        problem = str(exc)
    except NotRegular as exc:
        problem = f"{path} is not a regular file ({exc.kind}); not touching it"
    except OSError as exc:
        problem = f"state file {exc.filename or path}: {exc.strerror}"
    except Exception as exc:  # a bug here must cost the history, never the verdicts
        problem = f"internal error: {type(exc).__name__}: {exc}"
    return Changes(problem=f"history unavailable: {problem}")


def _record(path: Path, reports: tuple[TargetReport, ...], until: float, now: float) -> Changes:
    if not path.is_absolute():
        raise Unavailable(
            "no state directory ($STATE_DIRECTORY, $XDG_STATE_HOME and $HOME are unset or "
            "relative); set one, or give --state-file"
        )
    _make_dirs(path.parent)
    while True:
        try:
            fd, st = open_regular(path, follow=False)
        except NotRegular as exc:
            if exc.kind == "a symlink":
                raise Unavailable(f"{path} is a symlink; not following it") from None
            raise
        except FileNotFoundError:
            _create(path)
            continue
        try:
            changes = _rewrite(path, fd, st, reports=reports, until=until, now=now)
        finally:
            os.close(fd)
        if changes is not None:
            return changes
        if time.monotonic() >= until:
            raise Unavailable("state file locked by another run")


def _rewrite(
    path: Path,
    fd: int,
    st: os.stat_result,
    *,
    reports: tuple[TargetReport, ...],
    until: float,
    now: float,
) -> Changes | None:
    """Update the state file open on ``fd``; None when another run replaced
    it meanwhile. Writers never change a file in place, so what is read
    before the lock is still its content once the lock is ours."""
    raw = read_bounded(fd, MAX_BYTES)
    corrupt = ""
    try:
        state, notes = load(raw, now)
    except Foreign as exc:
        raise Unavailable(f"{path} {exc}; not touching it") from None
    except Corrupt as exc:
        state, notes, corrupt = {}, [], str(exc)
    _lock(fd, until)
    if not _current(path, st):
        return None
    said = f"state file {path}: " + "; ".join(notes) + "; rewritten without them"
    if corrupt:
        copy = _keep_copy(path, raw, corrupt)
        said = (
            f"state file {path} was corrupt ({corrupt}) and has been reset; "
            f"the damaged copy is {copy}"
        )
    changes = update(state, reports, now)
    _replace(path, dumps(state), st)
    if notes or corrupt:
        changes.warning = "; ".join(filter(None, (said, changes.warning)))
    return changes


def _make_dirs(directory: Path) -> None:
    """Create the missing directories (0700). As root each gets its parent's
    owner: a first run by hand as root must not lock the monitoring user out."""
    missing: list[Path] = []
    while not directory.is_dir() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
            if os.geteuid() == 0:
                parent = os.stat(d.parent)
                os.chown(d, parent.st_uid, parent.st_gid, follow_symlinks=False)
        except OSError as exc:
            raise Unavailable(f"cannot create {d}: {exc.strerror}") from None


def _create(path: Path) -> None:
    """A new, empty state file (0600; as root, owned like its directory),
    unless another run made one first. Empty is ours: it is filled next."""
    try:
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
    except FileExistsError:
        return
    try:
        if os.geteuid() == 0:
            where = os.stat(path.parent)
            os.fchown(fd, where.st_uid, where.st_gid)
    finally:
        os.close(fd)


def _lock(fd: int, until: float) -> None:
    """An exclusive flock on the state file, waited for until ``until``."""
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= until:
                raise Unavailable("state file locked by another run") from None
            time.sleep(0.01)


def _read(path: Path) -> bytes | None:
    """The bytes of a regular file at ``path`` (up to MAX_BYTES + 1), else None."""
    try:
        fd, _ = open_regular(path, follow=False)
    except OSError:
        return None
    try:
        return read_bounded(fd, MAX_BYTES)
    finally:
        os.close(fd)


def _current(path: Path, st: os.stat_result) -> bool:
    """Whether ``path`` still names the file ``st`` describes."""
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)


def _keep_copy(path: Path, raw: bytes, why: str) -> Path:
    """Keep the damaged file beside it (a hard link: owner, mode and bytes as
    they were), named by its content, so the same damage is kept once.
    Unavailable, and no reset, when the copy cannot be kept."""
    copy = path.with_name(f"{path.name}.corrupt-{hashlib.sha256(raw).hexdigest()[:12]}")
    try:
        os.link(path, copy, follow_symlinks=False)
    except FileExistsError:
        if _read(copy) != raw:
            raise Unavailable(
                f"{path} is corrupt ({why}), and {copy} is in the way; not resetting it"
            ) from None
    except OSError as exc:
        raise Unavailable(
            f"{path} is corrupt ({why}) and no copy of it can be kept "
            f"({copy}: {exc.strerror}); not resetting it"
        ) from None
    return copy


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGTERM (Icinga's timeout) and SIGINT wait until the new file is whole
    and in place, or gone; they take effect as soon as this ends."""
    held = {signal.SIGTERM, signal.SIGINT}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _replace(path: Path, data: bytes, old: os.stat_result) -> None:
    """Replace the file ``old`` describes by ``data``, atomically (temporary
    file, fsync, rename), with its owner, group and mode."""
    _sweep(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with _signals_held():
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            mine = os.fstat(fd)
            if (old.st_uid, old.st_gid) != (mine.st_uid, mine.st_gid):
                try:
                    os.fchown(fd, old.st_uid, old.st_gid)
                except PermissionError:
                    raise Unavailable(
                        f"{path} belongs to {_who(old.st_uid, old.st_gid)}; this run "
                        f"({_who(mine.st_uid, mine.st_gid)}) cannot give a new copy that "
                        "owner, so it does not rewrite it"
                    ) from None
            os.fchmod(fd, old.st_mode & 0o777)
            with open(fd, "wb", closefd=False) as f:
                f.write(data)
            os.fsync(fd)
            os.rename(tmp, path)
        finally:
            os.close(fd)
            tmp.unlink(missing_ok=True)


def _who(uid: int, gid: int) -> str:
    """``user:group`` by name where the system knows them."""
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return f"{user}:{group}"


def _sweep(path: Path) -> None:
    """Remove temporary files left by writers that were killed (SIGKILL):
    only our exact name pattern, only regular files, only of a pid that no
    longer runs (or is ours: a dead process had it before us)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.([1-9][0-9]{{0,6}})\.tmp")
    for name in os.listdir(path.parent):
        match = pattern.fullmatch(name)
        if match is None or not _dead(int(match[1])):
            continue
        stale = path.parent / name
        try:
            if stat.S_ISREG(os.lstat(stale).st_mode):
                stale.unlink()
        except FileNotFoundError:
            pass


def _dead(pid: int) -> bool:
    """Whether a writer with this pid is gone: no such process, or it is us
    (we have no temporary file yet, so a dead process had our pid)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return False
