"""State files: a small file of ours that a run reads and rewrites between
runs (check_dnsbl's listing history, check_dnsbl_bounces' log position). The
path is the admin's, and may name anything, so:

- only a regular file is opened, never through a symlink, never blocking
  (``configfile.open_regular``): a FIFO, device or socket is refused in words;
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

What the file holds, and whether a file is provably ours, is the caller's:
``rewrite`` hands it the bytes and writes back what it returns.
"""

import fcntl
import grp
import hashlib
import os
import pwd
import re
import signal
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from check_dnsbl.configfile import NotRegular, open_regular, read_bounded

T = TypeVar("T")


class Unavailable(Exception):
    """Why this run has no state file; the message is one line."""


def state_dir() -> str:
    """Where state files go: $STATE_DIRECTORY (systemd; the first of several),
    else $XDG_STATE_HOME, else ~/.local/state. Relative values are ignored, as
    XDG says; "" when there is no absolute one (no $HOME, a user unknown to
    the system)."""
    bases = (
        os.environ.get("STATE_DIRECTORY", "").split(":")[0],
        os.environ.get("XDG_STATE_HOME", ""),
        os.path.join(os.path.expanduser("~"), ".local", "state"),  # "~" when unknown
    )
    return next((b for b in bases if os.path.isabs(b)), "")


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


def problem(path: Path, exc: Exception) -> str:
    """Why the state file at ``path`` could not be used, in one line."""
    if isinstance(exc, Unavailable):
        return str(exc)
    if isinstance(exc, NotRegular):
        return f"{path} is not a regular file ({exc.kind}); not touching it"
    if isinstance(exc, OSError):
        return f"state file {exc.filename or path}: {exc.strerror}"
    return f"internal error: {type(exc).__name__}: {exc}"


def rewrite(path: Path, until: float, limit: int, edit: Callable[[bytes], tuple[bytes, T]]) -> T:
    """Read the state file at ``path`` (at most ``limit`` + 1 bytes), lock it,
    and replace it by what ``edit`` makes of its bytes; ``edit``'s result.
    ``edit`` runs under the lock, and refuses a file that is not ours by
    raising Unavailable. The lock is waited for until ``until`` (monotonic)."""
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
            # Writers never change a file in place, so what is read before the
            # lock is still its content once the lock is ours.
            raw = read_bounded(fd, limit)
            _lock(fd, until)
            if _current(path, st):
                data, result = edit(raw)
                _replace(path, data, st)
                return result
        finally:
            os.close(fd)
        if time.monotonic() >= until:
            raise Unavailable("state file locked by another run")


def keep_copy(path: Path, raw: bytes, why: str, limit: int) -> Path:
    """Keep a damaged state file beside it (a hard link: owner, mode and bytes
    as they were), named by its content, so the same damage is kept once.
    Unavailable, and no reset, when the copy cannot be kept."""
    copy = path.with_name(f"{path.name}.corrupt-{hashlib.sha256(raw).hexdigest()[:12]}")
    try:
        os.link(path, copy, follow_symlinks=False)
    except FileExistsError:
        if _read(copy, limit) != raw:
            raise Unavailable(
                f"{path} is corrupt ({why}), and {copy} is in the way; not resetting it"
            ) from None
    except OSError as exc:
        raise Unavailable(
            f"{path} is corrupt ({why}) and no copy of it can be kept "
            f"({copy}: {exc.strerror}); not resetting it"
        ) from None
    return copy


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


def _read(path: Path, limit: int) -> bytes | None:
    """The bytes of a regular file at ``path`` (up to ``limit`` + 1), else None."""
    try:
        fd, _ = open_regular(path, follow=False)
    except OSError:
        return None
    try:
        return read_bounded(fd, limit)
    finally:
        os.close(fd)


def _current(path: Path, st: os.stat_result) -> bool:
    """Whether ``path`` still names the file ``st`` describes."""
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)


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
