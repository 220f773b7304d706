"""Files the admin names on the command line (--lists-file, --extra-opts, key
files, and the --state-file through ``history``): opened only if they are
regular files, never blocking, and read with a size bound.

A path may name anything: /dev/zero (endless), a FIFO (blocks until a
writer comes), a socket, a directory, a device whose open has effects (a tape
rewinds, a watchdog arms). So the path is stat'ed first and nothing but a
regular file is opened, without blocking (O_NONBLOCK) and without taking a
terminal (O_NOCTTY); fstat then checks that the file opened is the one that
was stat'ed.
"""

import os
import stat
from pathlib import Path

#: Most bytes read from a --lists-file, key file or --extra-opts file.
MAX_BYTES = 1 << 20
LIMIT = f"{MAX_BYTES >> 20} MiB"

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISLNK, "a symlink"),
)


class ConfigFileError(ValueError):
    """A named file that cannot be read; the message is one line."""


class NotRegular(OSError):
    """The path names something other than a regular file; ``kind`` says what."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"not a regular file ({kind})")
        self.kind = kind


def kind(mode: int) -> str:
    """What a file of this st_mode is, in words."""
    return next((word for test, word in _KINDS if test(mode)), "a special file")


def open_regular(path: Path | str, follow: bool = True) -> tuple[int, os.stat_result]:
    """A read-only fd on ``path`` and its fstat, if it is a regular file
    (``follow=False``: and not a symlink); NotRegular otherwise, other
    OSErrors (FileNotFoundError, PermissionError) as they come."""
    before = os.stat(path, follow_symlinks=follow)
    if not stat.S_ISREG(before.st_mode):
        raise NotRegular(kind(before.st_mode))
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    fd = os.open(path, flags if follow else flags | os.O_NOFOLLOW)
    after = os.fstat(fd)
    if not stat.S_ISREG(after.st_mode):
        os.close(fd)
        raise NotRegular(kind(after.st_mode))
    return fd, after


def read_bounded(fd: int, limit: int) -> bytes:
    """At most ``limit + 1`` bytes from ``fd``: more than ``limit`` means too large."""
    with open(fd, "rb", closefd=False) as f:
        return f.read(limit + 1) or b""


def read(path: Path | str, option: str) -> str:
    """The text of ``path``, given with ``option``: a regular UTF-8 file of at
    most MAX_BYTES; ConfigFileError, naming the option and why, otherwise."""
    try:
        fd, st = open_regular(path)
        try:
            raw = b"" if st.st_size > MAX_BYTES else read_bounded(fd, MAX_BYTES)
        finally:
            os.close(fd)
        if st.st_size > MAX_BYTES or len(raw) > MAX_BYTES:
            why = f"larger than {LIMIT}"
        else:
            return raw.decode("utf-8")
    except UnicodeDecodeError:
        why = "not a UTF-8 text file"
    except OSError as exc:
        why = exc.strerror or str(exc)
    except ValueError:  # os.stat: "embedded null byte" (from an --extra-opts line)
        why = "the path holds a NUL byte"
    raise ConfigFileError(f"cannot read {option} {path}: {why}")
