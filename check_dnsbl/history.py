"""Listing history across runs: what is NEW, since when, and what was delisted.

A small JSON state file per service (its name hashes the targets and lists,
so other services never clash), read and rewritten under a lock after the DNS
work, never during it:

- the lock (``<file>.lock``, flock) is waited for only until the run's
  deadline; a held lock costs this run its history, never its verdicts;
- the file is opened without following symlinks (O_NOFOLLOW) and written
  atomically (temporary file, fsync, rename) with mode 0600;
- an unreadable or unwritable file costs the history, never the verdicts; a
  corrupt one is reset, with a warning.

Format (``"version": 1``)::

    {"format": "check_dnsbl-state", "version": 1,
     "listed":   {"<target> <zone>": {"first_seen": <unix time>, "last_seen": <unix time>}},
     "delisted": {"<target> <zone>": {"first_seen": <unix time>, "delisted": <unix time>}}}

Delistings are kept for 30 days, so they can be followed up.
"""

import errno
import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from check_dnsbl.verdict import Status, TargetReport

FORMAT, VERSION = "check_dnsbl-state", 1
MAX_BYTES = 16 << 20
KEEP_DELISTED = 30 * 86400


def default_path(targets: list[str], zones: list[str]) -> Path:
    """A file per service: $STATE_DIRECTORY (systemd), else $XDG_STATE_HOME,
    else ~/.local/state, under check_dnsbl/, named by a hash of what is checked."""
    base = os.environ.get("STATE_DIRECTORY") or os.environ.get("XDG_STATE_HOME")
    root = Path(base) if base else Path.home() / ".local" / "state"
    digest = hashlib.sha256("\n".join([*targets, "--", *sorted(zones)]).encode()).hexdigest()
    return root / "check_dnsbl" / f"state-{digest[:16]}.json"


@dataclass
class Changes:
    """What this run learned from the history; ``problem`` when it has none."""

    since: dict[str, float] = field(default_factory=dict)  # "target zone" -> first seen
    new: set[str] = field(default_factory=set)
    delisted: dict[str, float] = field(default_factory=dict)  # "target zone" -> first seen
    earlier: dict[str, float] = field(default_factory=dict)  # "target zone" -> delisted at
    problem: str = ""
    warning: str = ""


def key(target: str, zone: str) -> str:
    """The state file's key of a (target, zone) pair; ``split_key`` undoes it."""
    return f"{target} {zone}"


def split_key(k: str) -> tuple[str, str]:
    target, zone = k.split(" ", 1)
    return target, zone


def update(state: dict[str, dict[str, dict[str, float]]], reports: tuple[TargetReport, ...],
           now: float) -> Changes:  # fmt: skip
    """Fold this run's verdicts into ``state`` (in place). Pure: no I/O.

    Only a usable answer changes the history: an unusable list neither
    delists nor lists anything.
    """
    listed, delisted = state.setdefault("listed", {}), state.setdefault("delisted", {})
    changes = Changes()
    for report in reports:
        for verdict in report.verdicts:
            k = key(report.target, verdict.dnsbl.zone)
            if verdict.status is Status.LISTED:
                entry = listed.get(k)
                if entry is None:
                    entry = listed[k] = {"first_seen": now, "last_seen": now}
                    changes.new.add(k)
                entry["last_seen"] = now
                delisted.pop(k, None)
                changes.since[k] = entry["first_seen"]
            elif verdict.status is Status.CLEAN and k in listed:
                first = listed.pop(k)["first_seen"]
                delisted[k] = {"first_seen": first, "delisted": now}
                changes.delisted[k] = first
    for k, entry in list(delisted.items()):
        if now - entry["delisted"] > KEEP_DELISTED:
            del delisted[k]
        elif k not in changes.delisted:
            changes.earlier[k] = entry["delisted"]
    return changes


def _load(raw: bytes) -> dict[str, dict[str, dict[str, float]]]:
    """The state in ``raw``; ValueError when it is not a valid state file."""
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not (isinstance(data, dict) and data.get("format") == FORMAT):
        raise ValueError("not a check_dnsbl state file")
    if data.get("version") != VERSION:
        raise ValueError(f"state format version {data.get('version')!r}, expected {VERSION}")
    state = {name: data.get(name, {}) for name in ("listed", "delisted")}
    for entries in state.values():
        if not isinstance(entries, dict) or not all(
            isinstance(e, dict) and all(isinstance(v, int | float) for v in e.values())
            for e in entries.values()
        ):
            raise ValueError("malformed entries")
    return state


def _write(path: Path, state: dict[str, dict[str, dict[str, float]]]) -> None:
    """Atomically replace ``path``: a temporary file in the same directory,
    fsync, rename. The rename replaces a symlink itself, never its target."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"format": FORMAT, "version": VERSION, **state}, f, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _lock(path: Path, until: float) -> int:
    """An exclusive flock on ``<path>.lock``, waited for until ``until``."""
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= until:
                os.close(fd)
                raise TimeoutError("state file locked by another run") from None
            time.sleep(0.01)


def record(path: Path, reports: tuple[TargetReport, ...], until: float) -> Changes:
    """Read, update and rewrite the state file; the history problem in words
    instead of an exception, so verdicts never depend on the state file."""
    now = time.time()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        return Changes(problem=f"history unavailable: cannot create {path.parent}: {exc.strerror}")
    try:
        lock = _lock(path, until)
    except (OSError, TimeoutError) as exc:
        return Changes(problem=_why(path, exc))
    try:
        warning = ""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CREAT, 0o600)
        except OSError as exc:
            return Changes(problem=_why(path, exc))
        try:
            with os.fdopen(os.dup(fd), "rb") as f:
                raw = f.read(MAX_BYTES + 1)
        finally:
            os.close(fd)
        try:
            state = _load(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            # A damaged state file is reset; anything else (a mistyped
            # --state-file pointing at a config file) is left alone.
            if not (raw.lstrip().startswith(b"{") or FORMAT.encode() in raw):
                return Changes(
                    problem=f"history unavailable: {path} is not a check_dnsbl state file; "
                    "not touching it"
                )
            state, warning = {}, f"state file {path} was corrupt ({exc}) and has been reset"
        changes = update(state, reports, now)
        changes.warning = warning
        try:
            _write(path, state)
        except OSError as exc:
            return Changes(problem=_why(path, exc))
        return changes
    finally:
        os.close(lock)


def _why(path: Path, exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return f"history unavailable: {exc.filename or path} is a symlink; not following it"
    if isinstance(exc, OSError):
        return f"history unavailable: state file {exc.filename or path}: {exc.strerror}"
    return f"history unavailable: {exc}"
