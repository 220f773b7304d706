"""The MTA's log, read incrementally: only the lines written since the last
run, across a rotation, never a line twice.

A Position is the file (device, inode), the offset read up to, and a hash
of the bytes at the file's start and just before the offset. Between two runs the log may have been

- appended to: read on from the offset;
- rotated by renaming (logrotate's default; Debian's rsyslog rotation keeps
  mail.log.1 uncompressed for a cycle, ``delaycompress``): the old file is
  found beside the log by its inode, its rest read, then the new log from
  its start;
- copied and truncated (``copytruncate``): the log is shorter than the
  offset, or the bytes before the offset changed; the copy is found beside
  the log by those bytes, its rest read, then the log from its start.

When the old part cannot be found (compressed, deleted), the reader says so
and reads the new log from its start. A partial last line (still being
written) waits for the next run. Reading stops at the run's deadline or at
MAX_READ bytes, at a line's end, and the next run goes on from there.
"""

import hashlib
import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from check_dnsbl.configfile import open_regular

#: Most bytes one run reads; the rest waits for the next run.
MAX_READ = 256 << 20
CHUNK = 1 << 20
#: Bytes at the file's start and before the offset that identify the part
#: read (a hash of them): log lines of a burst often end alike, but begin
#: with their own time and queue ID.
TAIL = 4096
#: The longest line kept whole; a longer "line" is garbage and is skipped.
MAX_LINE = 64 << 10


@dataclass(frozen=True)
class Position:
    dev: int
    ino: int
    offset: int
    tail: str  # sha256 hex of the first and the last TAIL bytes before offset


@dataclass
class Reading:
    """What one run read: where it ended and what it has to say."""

    position: Position
    lines: int = 0
    bytes: int = 0
    first: bool = False
    notes: list[str] = field(default_factory=list)


class LogError(Exception):
    """The log cannot be read at all; the message is one line."""


def _tail(fd: int, offset: int) -> str:
    start = max(0, offset - TAIL)
    head = os.pread(fd, min(TAIL, offset), 0)
    return hashlib.sha256(head + b"\0" + os.pread(fd, offset - start, start)).hexdigest()


def _open(path: Path, follow: bool) -> tuple[int, os.stat_result]:
    try:
        return open_regular(path, follow=follow)
    except OSError as exc:
        raise LogError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise LogError(f"cannot read {path}: the path holds a NUL byte") from None


def read_new(
    path: Path,
    position: Position | None,
    until: float,
    consume: Callable[[bytes], None],
    limit: int = MAX_READ,
) -> Reading:
    """Hand each line written to ``path`` since ``position`` to ``consume``
    (None: the first run, which starts at the log's end) and say where it
    ended. LogError when the log itself cannot be read."""
    fd, st = _open(path, follow=True)
    notes: list[str] = []
    try:
        if position is None:
            here = Position(st.st_dev, st.st_ino, st.st_size, _tail(fd, st.st_size))
            return Reading(here, first=True, notes=notes)
        reader = _Reader(until, consume, limit)
        same = (st.st_dev, st.st_ino) == (position.dev, position.ino)
        intact = (
            same and st.st_size >= position.offset and _tail(fd, position.offset) == position.tail
        )
        if intact:
            return reader.read(fd, st, position.offset, notes)
        old = _find_old(path, position, same)
        if old is not None:
            old_fd, old_st = old
            try:
                reading = reader.read(old_fd, old_st, position.offset, notes, whole=True)
            finally:
                os.close(old_fd)
            if reading.position.offset < old_st.st_size:  # stopped inside the old part
                return reading
            how = "truncated (copytruncate)" if same else "rotated"
            notes.append(f"{path} was {how}: read the rest of the old log, then the new one")
        else:
            notes.append(
                f"{path} was rotated or truncated and its old part was not found beside it "
                "(compressed or removed?): lines written just before that were not read"
            )
        return reader.read(fd, st, 0, notes)
    finally:
        os.close(fd)


def _find_old(
    path: Path, position: Position, truncated: bool
) -> tuple[int, os.stat_result] | None:
    """The rotated file holding the part of the log after ``position``: by
    inode after a rename, by the bytes before the offset after a copy. Only
    uncompressed regular files named like rotations of ``path`` beside it."""
    name = re.compile(rf"{re.escape(path.name)}[.-][0-9A-Za-z_.-]{{1,40}}")
    try:
        entries = sorted(os.scandir(path.parent), key=lambda e: e.name)
    except OSError:
        return None
    for entry in entries:
        if not name.fullmatch(entry.name) or entry.name.endswith((".gz", ".xz", ".bz2", ".zst")):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or info.st_size < position.offset:
            continue
        if not truncated and (info.st_dev, info.st_ino) != (position.dev, position.ino):
            continue
        try:
            fd, st = open_regular(entry.path, follow=False)
        except OSError:
            continue
        if st.st_size >= position.offset and _tail(fd, position.offset) == position.tail:
            return fd, st
        os.close(fd)
    return None


class _Reader:
    """Reads lines under one budget of time and bytes, shared by the old
    part of a rotated log and the new log."""

    def __init__(self, until: float, consume: Callable[[bytes], None], limit: int) -> None:
        self.until, self.consume, self.left = until, consume, limit
        self.lines = self.bytes = 0

    def read(
        self,
        fd: int,
        st: os.stat_result,
        offset: int,
        notes: list[str],
        whole: bool = False,
    ) -> Reading:
        """Lines from ``offset``; ``whole``: the file no longer grows, so a
        last line without its newline is a line too."""
        pending = b""
        while True:
            if time.monotonic() >= self.until or self.left <= 0:
                size = os.fstat(fd).st_size
                why = "the deadline (-t)" if self.left > 0 else f"{MAX_READ >> 20} MiB"
                notes.append(
                    f"stopped reading at {why}: {size - offset} bytes are left for the next run"
                )
                break
            chunk = os.pread(fd, min(CHUNK, self.left), offset + len(pending))
            if not chunk:
                if whole and pending:
                    self._line(pending)
                    offset += len(pending)
                break
            self.left -= len(chunk)
            data = pending + chunk
            end = data.rfind(b"\n")
            if end < 0:
                if len(data) > MAX_LINE:  # no line ends here: garbage, skip it
                    offset += len(data)
                    pending = b""
                else:
                    pending = data
                continue
            for line in data[:end].split(b"\n"):
                self._line(line)
            offset += end + 1
            pending = data[end + 1 :]
        here = Position(st.st_dev, st.st_ino, offset, _tail(fd, offset))
        return Reading(here, self.lines, self.bytes, notes=notes)

    def _line(self, line: bytes) -> None:
        self.lines += 1
        self.bytes += len(line) + 1
        self.consume(line)
