"""Files named on the command line are read before the clock starts: only a
regular UTF-8 file of at most 1 MiB, never blocking, or one line of UNKNOWN
that names the option and why."""

import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from check_dnsbl import configfile
from tests.conftest import check_dnsbl

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")


def special_file(directory: Path, kind: str) -> Path:
    """A node of ``kind`` (as ``configfile.kind`` words it) in ``directory``."""
    path = directory / kind.rsplit(maxsplit=1)[-1]
    if kind == "a FIFO":
        os.mkfifo(path)
    elif kind == "a socket":
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(str(path))  # the node outlives the socket
    elif kind == "a character device":  # a copy of /dev/null
        os.mknod(path, 0o666 | stat.S_IFCHR, os.stat("/dev/null").st_rdev)
    elif kind == "a block device":  # loop0's numbers; never opened
        os.mknod(path, 0o600 | stat.S_IFBLK, os.makedev(7, 0))
    elif kind == "a directory":
        path.mkdir()
    else:
        raise ValueError(kind)
    return path


SPECIAL = [
    "a FIFO",
    "a socket",
    "a directory",
    pytest.param("a character device", marks=ROOT_ONLY),
    pytest.param("a block device", marks=ROOT_ONLY),
]

#: option -> the arguments that name ``path`` with it, and how errors name it
OPTIONS: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "lists": (lambda p: ["--lists-file", str(p)], "--lists-file"),
    "dqs": (lambda p: ["--dqs-key-file", str(p)], "--dqs-key-file"),
    "abusix": (lambda p: ["--abusix-key-file", str(p)], "--abusix-key-file"),
    "extra-opts": (lambda p: [f"--extra-opts=rbl@{p}"], "--extra-opts file"),
}


def refused(option: str, path: Path) -> str:
    """The first line of a run whose ``option`` names ``path``."""
    args, _ = OPTIONS[option]
    run = check_dnsbl("-H", "192.0.2.1", *args(path), timeout=20)
    assert (run.returncode, len(run.lines)) == (3, 1), run.stdout
    return run.first_line


def because(option: str, path: Path | str, why: str) -> str:
    return f"DNSBL UNKNOWN - cannot read {OPTIONS[option][1]} {path}: {why} (see --help)"


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("kind", SPECIAL)
def test_special_files_are_refused_without_opening(option: str, kind: str, tmp_path: Path) -> None:
    path = special_file(tmp_path, kind)
    assert refused(option, path) == because(option, path, f"not a regular file ({kind})")


@pytest.mark.parametrize("option", OPTIONS)
def test_dev_zero_directly_and_through_a_symlink(option: str, tmp_path: Path) -> None:
    zero = Path("/dev/zero")
    assert refused(option, zero) == because(
        option, zero, "not a regular file (a character device)"
    )
    link = tmp_path / "link"
    link.symlink_to(zero)
    assert refused(option, link) == because(
        option, link, "not a regular file (a character device)"
    )


@pytest.mark.parametrize("option", OPTIONS)
def test_oversized_and_non_utf8_files(option: str, tmp_path: Path) -> None:
    sparse = tmp_path / "sparse"
    with sparse.open("wb") as f:
        f.truncate(8 << 30)  # 8 GiB of nothing: refused by its size, never read
    assert refused(option, sparse) == because(option, sparse, "larger than 1 MiB")
    big = tmp_path / "big"
    big.write_bytes(b"#" * (configfile.MAX_BYTES + 1))
    assert refused(option, big) == because(option, big, "larger than 1 MiB")
    latin1 = tmp_path / "latin1"
    latin1.write_bytes("[rbl]\n# Zürich\n".encode("latin-1"))
    assert refused(option, latin1) == because(option, latin1, "not a UTF-8 text file")


def test_a_nul_byte_in_a_path_from_extra_opts(tmp_path: Path) -> None:
    """An ini line can carry what argv cannot: a NUL byte."""
    ini = tmp_path / "plugins.ini"
    ini.write_bytes(b"[rbl]\nlists-file=/etc/a\0b\n")
    run = check_dnsbl("-H", "192.0.2.1", f"--extra-opts=rbl@{ini}")
    assert (run.returncode, run.lines) == (
        3,
        [
            "DNSBL UNKNOWN - cannot read --lists-file /etc/a b: the path holds a NUL byte "
            "(see --help)"
        ],
    )


def test_read_takes_a_file_of_exactly_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "lists.toml"
    path.write_bytes(b" " * configfile.MAX_BYTES)
    assert configfile.read(path, "--lists-file") == " " * configfile.MAX_BYTES
    path.write_bytes(b" " * (configfile.MAX_BYTES + 1))
    with pytest.raises(configfile.ConfigFileError, match="larger than 1 MiB"):
        configfile.read(path, "--lists-file")


def test_the_bound_is_in_the_help() -> None:
    run = check_dnsbl("--help")
    assert "must be regular UTF-8 files\nof at most 1 MiB." in run.stdout
