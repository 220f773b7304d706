"""check_dnsbl_bounces' state file: where the last run stopped reading the
log, and, per receiver domain, when it last refused mail citing a list and
when it last accepted mail (so a later run can tell that a listing is gone).

The file's safety is ``statefile``'s (as for check_dnsbl's history); what is
ours is decided here: a JSON object with our format name and version, or an
empty file. Another program's file is never touched; a file of ours that
does not parse is reset, keeping the damaged copy beside it.

Format (``"version": 1``)::

    {"format": "check_dnsbl_bounces-state", "version": 1,
     "log": {"path": "/var/log/mail.log", "dev": 2049, "ino": 1234,
             "offset": 5678, "tail": "<sha256 hex>"},
     "receivers": {"example.org": {"refused": <unix time>, "accepted": <unix time>}}}
"""

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from check_dnsbl.bounces.logreader import Position
from check_dnsbl.statefile import state_dir

FORMAT, VERSION = "check_dnsbl_bounces-state", 1
HEAD = json.dumps({"format": FORMAT, "version": VERSION})[:-1].encode() + b","
MAX_BYTES = 4 << 20
#: Receiver domains remembered; the least recently seen go first.
MAX_RECEIVERS = 10_000
KEEP = 30 * 86400
_HEX = set("0123456789abcdef")


class Foreign(ValueError):
    """Not provably a state file of ours: never touched."""


class Corrupt(ValueError):
    """Ours by its first bytes, but unreadable: reset, keeping a copy."""


@dataclass
class State:
    log: str = ""
    position: Position | None = None
    receivers: dict[str, dict[str, float]] = field(default_factory=dict)


def default_path(log: Path) -> Path:
    """A file per log, in check_dnsbl's state directory (see statefile)."""
    digest = hashlib.sha256(str(log).encode()).hexdigest()[:16]
    return Path(state_dir(), "check_dnsbl", f"bounces-{digest}.json")


def load(raw: bytes, log: Path, now: float) -> State:
    """The state in ``raw`` for ``log``. Pure. A position of another log is
    dropped (the run starts at this log's end); bad entries are dropped."""
    if not raw.strip():
        return State(str(log))
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        if raw.startswith(HEAD):
            raise Corrupt(str(exc)[:200]) from None
        raise Foreign("is not a check_dnsbl_bounces state file") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise Foreign("is not a check_dnsbl_bounces state file")
    if data.get("version") != VERSION:
        raise Foreign(f"is a check_dnsbl_bounces state file of another version, not {VERSION}")
    state = State(str(log))
    where = data.get("log")
    if isinstance(where, dict) and where.get("path") == str(log):
        dev, ino, offset, tail = (where.get(k) for k in ("dev", "ino", "offset", "tail"))
        if (
            isinstance(dev, int)
            and isinstance(ino, int)
            and isinstance(offset, int)
            and all(type(n) is int and 0 <= n < 1 << 64 for n in (dev, ino, offset))
            and isinstance(tail, str)
            and len(tail) == 64
            and set(tail) <= _HEX
        ):
            state.position = Position(dev, ino, offset, tail)
    receivers = data.get("receivers")
    for domain, seen in receivers.items() if isinstance(receivers, dict) else ():
        if not (isinstance(domain, str) and 0 < len(domain) <= 255 and isinstance(seen, dict)):
            continue
        kept = {
            k: float(v)
            for k, v in seen.items()
            if k in ("refused", "accepted")
            and type(v) in (int, float)
            and math.isfinite(v)
            and now - KEEP <= v <= now + 86400
        }
        if kept:
            state.receivers[domain] = kept
    return state


def dumps(state: State) -> bytes:
    """The file's bytes: HEAD first; at most MAX_RECEIVERS, the latest kept."""
    latest = sorted(state.receivers.items(), key=lambda kv: -max(kv[1].values()))
    body: dict[str, object] = {"format": FORMAT, "version": VERSION}
    if state.position is not None:
        p = state.position
        body["log"] = {
            "path": state.log,
            "dev": p.dev,
            "ino": p.ino,
            "offset": p.offset,
            "tail": p.tail,
        }
    body["receivers"] = dict(sorted(latest[:MAX_RECEIVERS]))
    return (json.dumps(body) + "\n").encode()
