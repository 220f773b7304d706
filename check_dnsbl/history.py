"""Listing history across runs: what is NEW, since when, and what was delisted.

A small JSON state file per service (its name hashes the targets and lists,
so other services never clash), read and rewritten after the DNS work, never
during it. The path is the admin's, and may name anything, so:

- the file's safety (regular files only, no symlinks, an flock without a
  lock file, atomic replacement keeping the owner, SIGTERM held, stale
  temporary files removed) is ``statefile``'s, shared with check_dnsbl_bounces;
- only a file that is provably ours is rewritten: a JSON object with our
  format name and version, or an empty file. Another program's file, or a
  newer format, is left alone. A file that begins as ours (``HEAD``) but does
  not parse is reset, and the damaged copy is kept beside it (a hard link);
- every entry is checked on load: a bad one is dropped with a note, the rest
  kept; at most MAX_ENTRIES entries are kept, so what is written reads back.

Any problem costs the history, never a verdict: ``record`` returns it as a
line for the long output.

Format (``"version": 1``)::

    {"format": "check_dnsbl-state", "version": 1,
     "listed":   {"<target> <zone>": {"first_seen": <unix time>, "last_seen": <unix time>}},
     "delisted": {"<target> <zone>": {"first_seen": <unix time>, "delisted": <unix time>}}}

Delistings are kept for 30 days, so they can be followed up.
"""

import hashlib
import json
import math
import re
import time
from collections import Counter
from pathlib import Path

from check_dnsbl.model import Changes, Status, TargetReport
from check_dnsbl.statefile import Unavailable, keep_copy, problem, rewrite, state_dir

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
    root = state_dir()
    digest = hashlib.sha256("\n".join([*targets, "--", *sorted(zones)]).encode()).hexdigest()
    return Path(root, "check_dnsbl", f"state-{digest[:16]}.json")


def key(target: str, zone: str) -> str:
    """The state file's key of a (target, zone) pair; ``split_key`` undoes it."""
    return f"{target} {zone}"


def split_key(k: str) -> tuple[str, str]:
    target, zone = k.split(" ", 1)
    return target, zone


def update(state: State, reports: tuple[TargetReport, ...], now: float) -> Changes:
    """Fold this run's verdicts into ``state`` (in place). Pure: no I/O.

    Only a usable answer of a blocklist changes the history: an unusable
    list neither delists nor lists anything, and an allowlist or reputation
    zone holds no listings (a file written before they were told apart loses
    its entries for them, silently). At MAX_ENTRIES the oldest delistings make
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
            if not verdict.dnsbl.blocks:  # an allowlist's entry is no listing, then or now
                listed.pop(k, None)
                delisted.pop(k, None)
                continue
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


def record(path: Path, reports: tuple[TargetReport, ...], until: float) -> Changes:
    """Read, update and rewrite the state file; the history problem in words
    instead of an exception, so verdicts never depend on the state file."""
    now = time.time()

    def edit(raw: bytes) -> tuple[bytes, Changes]:
        corrupt = ""
        try:
            state, notes = load(raw, now)
        except Foreign as exc:
            raise Unavailable(f"{path} {exc}; not touching it") from None
        except Corrupt as exc:
            state, notes, corrupt = {}, [], str(exc)
        said = f"state file {path}: " + "; ".join(notes) + "; rewritten without them"
        if corrupt:
            copy = keep_copy(path, raw, corrupt, MAX_BYTES)
            said = (
                f"state file {path} was corrupt ({corrupt}) and has been reset; "
                f"the damaged copy is {copy}"
            )
        changes = update(state, reports, now)
        if notes or corrupt:
            changes.warning = "; ".join(filter(None, (said, changes.warning)))
        return dumps(state), changes

    try:
        return rewrite(path, until, MAX_BYTES, edit)
    except Exception as exc:  # a bug here must cost the history, never the verdicts
        return Changes(problem=f"history unavailable: {problem(path, exc)}")
