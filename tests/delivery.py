"""What the project delivers, built once per test session in a temp dir.

- ``sdist()`` / ``wheel()``: built offline by this interpreter's setuptools
  (PEP 517 hooks, no isolation), as ``python -m build --no-isolation`` would.
- ``package()``: ``make deb`` run in the unpacked sdist (as a distribution
  builds from the release tarball, with APT=no: the tests never call apt),
  then ``dpkg-deb -x`` into a temp dir. The package is never installed on
  this machine; tests run its plugin from the extracted tree.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.dnsworld import require_tool

SYSPY = "/usr/bin/python3"
#: Where the package puts things (and the README says so).
PLUGIN = "usr/lib/nagios/plugins/check_dnsbl"
DIST_PACKAGES = "usr/lib/python3/dist-packages"
CHECKCOMMAND = "usr/share/icinga2/include/plugins-contrib.d/check_dnsbl.conf"
NAGIOS_CFG = "etc/nagios-plugins/config/check_dnsbl.cfg"
DOC = "usr/share/doc/check-dnsbl"
EXAMPLES = f"{DOC}/examples"
MANPAGE = "usr/share/man/man1/check_dnsbl.1.gz"
BOUNCES = "usr/lib/nagios/plugins/check_dnsbl_bounces"
BOUNCES_COMMAND = "usr/share/icinga2/include/plugins-contrib.d/check_dnsbl_bounces.conf"
BOUNCES_MANPAGE = "usr/share/man/man1/check_dnsbl_bounces.1.gz"


def require(ok: bool, why: str) -> None:
    """Skip without a tool, but fail under CI=true, as tests/dnsworld.py's require_tool."""
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


@functools.cache
def _workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="check_dnsbl-delivery-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this run's PYTHONPATH or venv: what a build
    or a monitoring core would see."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, **extra}


def run(argv: list[str], cwd: Path, timeout: float = 300, **env: str) -> str:
    """Run a build step; its output, or an AssertionError with it."""
    proc = subprocess.run(
        argv, cwd=cwd, env=clean_env(**env), capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(argv)} failed ({proc.returncode}):\n{out[-6000:]}"
    return out


def _build(hook: str) -> Path:
    """A PEP 517 hook of setuptools on this interpreter, output in a temp dir."""
    out = Path(tempfile.mkdtemp(prefix=f"{hook}-", dir=_workdir()))
    code = f"import sys; from setuptools import build_meta; build_meta.{hook}(sys.argv[1])"
    run([sys.executable, "-c", code, str(out)], cwd=ROOT)
    (built,) = out.iterdir()
    return built


@functools.cache
def sdist() -> Path:
    return _build("build_sdist")


@functools.cache
def wheel() -> Path:
    return _build("build_wheel")


@functools.cache
def unpacked_sdist() -> Path:
    """The sdist unpacked: the tree a user or a distribution starts from."""
    dest = Path(tempfile.mkdtemp(prefix="sdist-", dir=_workdir()))
    run(["tar", "-xzf", str(sdist()), "-C", str(dest)], cwd=dest)
    (tree,) = dest.iterdir()
    return tree


@dataclass(frozen=True)
class Package:
    """The built .deb and the tree dpkg-deb -x made of it."""

    deb: Path
    root: Path

    @property
    def plugin(self) -> Path:
        return self.root / PLUGIN

    @property
    def pythonpath(self) -> Path:
        """The package's dist-packages, standing in for /usr/lib/python3/dist-packages."""
        return self.root / DIST_PACKAGES

    def env(self, **extra: str) -> dict[str, str]:
        """For the extracted plugin: its own modules on the path, as if installed."""
        return clean_env(PYTHONPATH=str(self.pythonpath), **extra)


@functools.cache
def package() -> Package:
    require_tool("make")
    require_tool("dpkg-checkbuilddeps")
    tree = unpacked_sdist()
    unmet = subprocess.run(
        ["dpkg-checkbuilddeps"], cwd=tree, capture_output=True, text=True, check=False
    )
    require(unmet.returncode == 0, f"{unmet.stderr.strip()} (make deb installs them)")
    run(["make", "-s", "deb", "APT=no"], cwd=tree)
    (deb,) = (tree / "dist").glob("check-dnsbl_*_all.deb")
    root = Path(tempfile.mkdtemp(prefix="deb-", dir=_workdir()))
    run(["dpkg-deb", "-x", str(deb), str(root)], cwd=_workdir())
    return Package(deb, root)
