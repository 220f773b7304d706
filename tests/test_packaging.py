"""Delivery: the Debian package, the sdist and wheel, make install DESTDIR=,
and a set-up that leaves the host's services as they were.

The package is built by ``make deb`` from an sdist of this tree and extracted
into a temp dir (tests/delivery.py); it is never installed on this machine.
Its plugin runs on /usr/bin/python3 with Debian's nagiosplugin and dnspython
against the real rbldnsd + unbound of tests/dnsworld.py.
"""

from __future__ import annotations

import email.parser
import gzip
import marshal
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from check_dnsbl import __version__
from check_dnsbl.options import build_parser
from tests import delivery
from tests.conftest import ROOT
from tests.delivery import (
    CHECKCOMMAND,
    DIST_PACKAGES,
    DOC,
    EXAMPLES,
    MANPAGE,
    NAGIOS_CFG,
    PLUGIN,
    SYSPY,
    clean_env,
    require,
)
from tests.dnsworld import DnsWorld, Zone, require_tool

LISTED, CLEAN = "198.51.100.10", "192.0.2.1"
WORLD = [
    Zone("zen.spamhaus.org", ip4=("127.0.0.2 :127.0.0.2:test", f"{LISTED} :127.0.0.4:XBL test")),
    Zone("bl.spamcop.net", ip4=("127.0.0.2", LISTED)),
    Zone("dbl.spamhaus.org", generic=("dbltest.com A 127.0.1.2", "xn--bcher-kva.de A 127.0.1.2")),
]
LISTS = ["-s", "zen.spamhaus.org", "-s", "bl.spamcop.net"]
FIRST_LINES = {
    LISTED: (2, f"DNSBL CRITICAL - {LISTED} listed on 2 of 2 lists: zen.spamhaus.org (XBL), "
                "bl.spamcop.net"),
    CLEAN: (0, f"DNSBL OK - {CLEAN} not listed on 2 lists"),
}  # fmt: skip
#: Files of the source tree that are not sources: never in git, nor in the sdist.
NOT_SOURCE = re.compile(
    r"(^|/)(__pycache__|\.venv[^/]*|build|dist|[^/]+\.egg-info|\.pytest_cache|\.mypy_cache"
    r"|\.ruff_cache|\.hypothesis)(/|$)|^bench/results/|^PKG-INFO$|\.py[cod]$"
)


def tree_files(root: Path) -> dict[str, bool]:
    """Every source file of a tree -> whether it is executable: ``git ls-files``
    (tracked, or new and not ignored) in a checkout, else every file but
    build products (an unpacked sdist has no .git)."""
    if (root / ".git").exists():
        names = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard"],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout.splitlines()  # fmt: skip
        names = [n for n in names if (root / n).exists()]  # deleted, not yet committed
    else:
        names = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    return {n: os.access(root / n, os.X_OK) for n in names if not NOT_SOURCE.search(n)}


# ----------------------------------------------------------- the .deb


@pytest.fixture(scope="module")
def pkg() -> delivery.Package:
    return delivery.package()


def deb_field(pkg: delivery.Package, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(pkg.deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_deb_is_named_and_versioned_from_the_one_version(pkg: delivery.Package) -> None:
    assert pkg.deb.name == f"check-dnsbl_{__version__}_all.deb"
    assert deb_field(pkg, "Version") == __version__
    assert deb_field(pkg, "Architecture") == "all"


def test_deb_depends_on_debian_libraries_only(pkg: delivery.Package) -> None:
    depends = [d.strip() for d in deb_field(pkg, "Depends").split(",")]
    assert sorted(depends) == [
        "publicsuffix",  # the Public Suffix List, for PyPI's publicsuffixlist
        "python3-dnspython (>= 2.3.0)",
        "python3-idna (>= 3.3)",
        "python3-nagiosplugin (>= 1.3.2)",
        "python3:any (>= 3.11~)",
    ]
    shipped = {p.name for p in (pkg.root / DIST_PACKAGES).iterdir()}
    assert shipped == {"check_dnsbl", f"check_dnsbl-{__version__}.dist-info"}, "vendored code"


def test_deb_puts_each_file_where_debian_admins_expect_it(pkg: delivery.Package) -> None:
    files = {
        str(p.relative_to(pkg.root)): p.stat().st_mode for p in pkg.root.rglob("*") if p.is_file()
    }
    # The plugin, executable, where the Monitoring Plugins live.
    assert stat.S_IMODE(files[PLUGIN]) == 0o755
    assert (pkg.root / PLUGIN).read_text().startswith("#!/usr/bin/python3\n")
    # The module: every file of check_dnsbl/ and nothing else.
    module = {f"{DIST_PACKAGES}/check_dnsbl/{p.name}" for p in (ROOT / "check_dnsbl").glob("*.*")}
    module = {m for m in module if not m.endswith(".pyc")}
    assert {f for f in files if f.startswith(f"{DIST_PACKAGES}/check_dnsbl/")} == module
    # Icinga 2 loads the CheckCommand with the ITL (include <plugins-contrib>);
    # Nagios reads /etc/nagios-plugins/config (cfg_dir): both byte for byte ours.
    assert (pkg.root / CHECKCOMMAND).read_bytes() == (ROOT / "icinga/dnsbl.conf").read_bytes()
    nagios = ROOT / "icinga/nagios/check_dnsbl.cfg"
    assert (pkg.root / NAGIOS_CFG).read_bytes() == nagios.read_bytes()
    # Site policy (apply rules, notifications) is an example, not live config.
    examples = {str(p.relative_to(pkg.root / EXAMPLES)) for p in (pkg.root / EXAMPLES).rglob("*")}
    icinga = {str(p.relative_to(ROOT / "icinga")) for p in (ROOT / "icinga").rglob("*")}
    assert examples == icinga - {"dnsbl.conf", "nagios/check_dnsbl.cfg"}
    for name in examples:
        if (ROOT / "icinga" / name).is_file():
            assert (pkg.root / EXAMPLES / name).read_bytes() == (
                ROOT / "icinga" / name
            ).read_bytes()
    # Docs, changelog, copyright, man page; nothing anywhere else.
    for name in ("README.md.gz", "SECURITY.md.gz", "changelog.gz", "copyright"):
        assert f"{DOC}/{name}" in files, name
    assert MANPAGE in files
    tops = {
        "usr/lib/nagios/plugins", DIST_PACKAGES, "usr/share/icinga2/include/plugins-contrib.d",
        "etc/nagios-plugins/config", DOC, "usr/share/man/man1",
    }  # fmt: skip
    stray = [f for f in files if not any(f.startswith(t + "/") for t in tops)]
    assert stray == []


def test_deb_conffile_is_the_nagios_command(pkg: delivery.Package, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-e", str(pkg.deb), str(tmp_path / "DEBIAN")], check=True)
    conffiles = (tmp_path / "DEBIAN" / "conffiles").read_text().split()
    assert conffiles == [f"/{NAGIOS_CFG}"]


def test_deb_changelog_is_changelog_md(pkg: delivery.Package) -> None:
    shipped = gzip.decompress((pkg.root / DOC / "changelog.gz").read_bytes()).decode()
    made = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "debchangelog.py")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert shipped == made
    assert shipped.startswith(f"check-dnsbl ({__version__}) unstable; urgency=medium\n")


def test_deb_man_page_is_the_help(pkg: delivery.Package) -> None:
    """help2man turned --help (exit 3 by design) into a page with every option."""
    roff = gzip.decompress((pkg.root / MANPAGE).read_bytes()).decode()
    text = re.sub(r"\\f[BRIP]|\\[,/&]", "", roff).replace("\\-", "-")  # the words, no fonts
    title = rf'^\.TH CHECK_DNSBL "1" "[^"]+" "check_dnsbl {re.escape(__version__)}"'
    assert re.search(title, roff, re.M), roff[:400]
    assert "check_dnsbl - is a mail server's address on a DNS blocklist?" in text
    for action in build_parser()._actions:
        for flag in action.option_strings:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), flag
    assert "--extra-opts=[section][@file]" in text
    assert f"/{CHECKCOMMAND}" in text


def test_deb_is_lintian_clean(pkg: delivery.Package) -> None:
    lintian = require_tool("lintian")
    proc = subprocess.run(
        [lintian, "--fail-on", "error,warning", str(pkg.deb)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    tags = [ln for ln in proc.stdout.splitlines() if re.match(r"[EW]: ", ln)]
    assert tags == [] and proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("address", [LISTED, CLEAN])
def test_packaged_plugin_checks_on_debian_python(
    pkg: delivery.Package, address: str, tmp_path: Path
) -> None:
    """The extracted plugin itself (#!/usr/bin/python3), on its own modules and
    Debian's nagiosplugin/dnspython, outside any checkout."""
    with DnsWorld(WORLD) as world:
        proc = subprocess.run(
            [str(pkg.plugin), "-H", address, *LISTS, "-n", world.resolver],
            cwd=tmp_path, env=pkg.env(STATE_DIRECTORY=str(tmp_path)),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    code, first_line = FIRST_LINES[address]
    if address == LISTED:  # its history works as installed: both listings are new
        first_line = first_line.replace("(XBL)", "(XBL, NEW)") + " (NEW)"
    assert (proc.returncode, proc.stdout.splitlines()[0], proc.stderr) == (code, first_line, "")
    assert len(list((tmp_path / "check_dnsbl").glob("*.json"))) == 1
    origin = subprocess.run(
        [SYSPY, "-c", "import check_dnsbl, nagiosplugin, dns; "
                      "print(check_dnsbl.__file__, nagiosplugin.__file__, dns.__file__)"],
        cwd=tmp_path, env=pkg.env(), capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert origin[0] == str(pkg.root / DIST_PACKAGES / "check_dnsbl" / "__init__.py")
    assert all(o.startswith("/usr/lib/python3/dist-packages/") for o in origin[1:]), origin


def test_packaged_plugin_judges_domains_by_debians_list(
    pkg: delivery.Package, tmp_path: Path
) -> None:
    """-d on Debian's python3: the Public Suffix List of Debian's publicsuffix
    (github.io is a suffix), IDNA 2008 of python3-idna, as the .deb depends."""
    with DnsWorld(WORLD) as world:
        proc = subprocess.run(
            [str(pkg.plugin), "--no-state", "-d", "www.Bücher.de", "-d", "foo.github.io",
             "-s", "dbl.spamhaus.org", "-n", world.resolver],
            cwd=tmp_path, env=pkg.env(), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert (proc.returncode, proc.stdout.splitlines()[0], proc.stderr) == (
        2,
        "DNSBL CRITICAL - 1 of 2 domains listed: xn--bcher-kva.de (www.bücher.de) on "
        "dbl.spamhaus.org (spam)",
        "",
    )
    origin = subprocess.run(
        [SYSPY, "-c", "import idna; from check_dnsbl import publicsuffix; "
                      "print(idna.__file__, publicsuffix.load().source)"],
        cwd=tmp_path, env=pkg.env(), capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert origin == [
        "/usr/lib/python3/dist-packages/idna/__init__.py",
        "/usr/share/publicsuffix/public_suffix_list.dat",
    ]


# ----------------------------------------------------- sdist and wheel


def test_sdist_holds_the_whole_tree() -> None:
    """Every file the tree has (git ls-files), with its executable bit; nothing
    else but what setuptools adds (PKG-INFO, egg-info)."""
    import tarfile

    with tarfile.open(delivery.sdist()) as tar:
        prefix = f"check_dnsbl-{__version__}/"
        members = {
            m.name.removeprefix(prefix): bool(m.mode & 0o100)
            for m in tar.getmembers()
            if m.isfile() and not NOT_SOURCE.search(m.name.removeprefix(prefix))
        }
    assert members == tree_files(ROOT)


def test_unpacked_sdist_is_a_working_tree() -> None:
    """The unpacked sdist collects the same tests, its Makefile knows its
    targets, and `make check` there fails under CI=true for want of lint tools
    instead of skipping (no .venv: nothing was installed there)."""
    tree = delivery.unpacked_sdist()

    def collect(root: Path) -> list[str]:
        out = delivery.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
            cwd=root, PYTHONPATH=str(root),
        )  # fmt: skip
        return sorted(ln for ln in out.splitlines() if "::" in ln)

    assert collect(tree) == collect(ROOT)
    for target in ("test", "demo", "deb", "dist", "check", "install"):
        delivery.run(["make", "-n", target, "DESTDIR=/stage"], cwd=tree)
    proc = subprocess.run(
        ["make", "-s", "check"], cwd=tree, env=clean_env(CI="true"),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "make check: no lint: no .venv with ruff and mypy (make venv)" in proc.stdout


def test_wheel_metadata_is_complete() -> None:
    with zipfile.ZipFile(delivery.wheel()) as whl:
        names = whl.namelist()
        info = f"check_dnsbl-{__version__}.dist-info"
        meta = email.parser.Parser().parsestr(whl.read(f"{info}/METADATA").decode())
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
    assert "check_dnsbl/catalog.toml" in names
    assert any(n.startswith(info) and n.endswith("/LICENSE") for n in names), names
    name = re.sub(r"[-_.]+", "-", meta["Name"]).lower()  # PEP 503: older setuptools differ
    assert (name, meta["Version"], meta["Requires-Python"]) == (
        "check-dnsbl",
        __version__,
        ">=3.11",
    )
    requires = sorted(re.sub(r"[ ()]", "", r) for r in meta.get_all("Requires-Dist", []))
    assert requires == [
        "dnspython>=2.3.0",
        "idna>=3.3",
        "nagiosplugin>=1.3.2",
        "publicsuffixlist>=1.0",
    ]
    assert meta["License"] == "MIT" and meta["License-File"] == "LICENSE"
    classifiers = meta.get_all("Classifier", [])
    for needed in (
        "License :: OSI Approved :: MIT License",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.11",
        "Topic :: System :: Monitoring",
    ):
        assert needed in classifiers
    homepage = meta["Home-page"]
    assert homepage and homepage.startswith("https://")
    assert meta.get_all("Project-URL")
    assert meta["Description-Content-Type"] == "text/markdown"
    assert str(meta.get_payload()).startswith("# check_dnsbl\n")
    assert "check_dnsbl = check_dnsbl.cli:main" in entry_points
    control = (ROOT / "debian" / "control").read_text(encoding="utf-8")
    assert f"\nHomepage: {homepage}\n" in control, "debian/control and setup.cfg disagree"


def test_twine_check_passes() -> None:
    twine = subprocess.run(
        [sys.executable, "-c", "import twine"], capture_output=True, check=False
    )
    require(
        twine.returncode == 0, f"{sys.executable} has no twine (Debian: apt-get install twine)"
    )
    delivery.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(delivery.sdist()),
         str(delivery.wheel())],
        cwd=ROOT,
    )  # fmt: skip


def test_changelog_records_the_version() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    import debchangelog

    releases = debchangelog.releases((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert releases[0].version == __version__
    assert all(r.items for r in releases)
    assert len({r.version for r in releases}) == len(releases)
    # The version is written in one place: everything else reads it from there.
    assert "version = attr: check_dnsbl.__version__" in (ROOT / "setup.cfg").read_text()
    assert "debian/changelog" not in tree_files(ROOT), "make deb writes it, nobody keeps it"


# --------------------------------------------------- make install DESTDIR


LIVE = (
    "/opt/check_dnsbl",
    "/usr/lib/nagios/plugins/check_dnsbl",
    "/etc/icinga2/conf.d/check_dnsbl",
    "/etc/nagios-plugins/config/check_dnsbl.cfg",
)


def live_state() -> dict[str, int | None]:
    return {p: (os.lstat(p).st_mtime_ns if os.path.lexists(p) else None) for p in LIVE}


def make(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", *args], cwd=tree, env=clean_env(),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_make_install_stages_everything_under_destdir(tmp_path: Path) -> None:
    """Offline (SYSTEM_DEPS=yes), from the unpacked sdist: the exact staged
    tree, a plugin that runs from it, nothing written to the live paths, and
    make uninstall DESTDIR= takes back every file."""
    require(Path(SYSPY).exists() and shutil.which("make") is not None, "needs make, python3")
    probe = subprocess.run(
        [SYSPY, "-c", "import nagiosplugin, dns, ensurepip, wheel"], check=False
    )
    require(
        probe.returncode == 0, "needs python3-venv python3-wheel python3-nagiosplugin -dnspython"
    )
    tree, stage = delivery.unpacked_sdist(), tmp_path / "stage"
    before = live_state()
    proc = make(tree, "install", f"DESTDIR={stage}", "SYSTEM_DEPS=yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert live_state() == before
    staged = sorted(
        str(p.relative_to(stage)) for p in stage.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )  # fmt: skip
    lib = "opt/check_dnsbl"
    info = f"{lib}/check_dnsbl-{__version__}.dist-info"
    module = sorted(f"{lib}/check_dnsbl/{p.name}" for p in (ROOT / "check_dnsbl").glob("*.*"))
    assert [s for s in staged if not s.startswith(info)] == sorted(
        [*module, "etc/icinga2/conf.d/check_dnsbl/dnsbl.conf",
         "etc/icinga2/conf.d/check_dnsbl/notifications.conf",
         "etc/icinga2/conf.d/check_dnsbl/services.conf",
         "etc/nagios-plugins/config/check_dnsbl.cfg", "usr/lib/nagios/plugins/check_dnsbl"]
    )  # fmt: skip
    # Staged for where it will live: the launcher and the byte code name /opt, not the stage.
    plugin = stage / "usr/lib/nagios/plugins/check_dnsbl"
    assert 'sys.path.insert(0, "/opt/check_dnsbl")' in plugin.read_text()
    pyc = next((stage / lib / "check_dnsbl" / "__pycache__").glob("cli.*.pyc"))
    assert (
        marshal.loads(pyc.read_bytes()[16:]).co_filename == "/opt/check_dnsbl/check_dnsbl/cli.py"
    )
    with DnsWorld(WORLD) as world:
        run = subprocess.run(
            [SYSPY, str(plugin), "--no-state", "-H", LISTED, *LISTS, "-n", world.resolver],
            cwd=tmp_path, env=clean_env(PYTHONPATH=str(stage / lib)),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert (run.returncode, run.stdout.splitlines()[0]) == FIRST_LINES[LISTED]

    proc = make(tree, "uninstall", f"DESTDIR={stage}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [p for p in stage.rglob("*") if not p.is_dir()] == []
    assert live_state() == before


def test_make_install_without_destdir_runs_where_it_lands(tmp_path: Path) -> None:
    """The live layout, each directory a temp one: the plugin runs as installed
    (no PYTHONPATH), an older make install's venv and symlink are replaced,
    and make uninstall leaves the tree as it found it."""
    probe = subprocess.run(
        [SYSPY, "-c", "import nagiosplugin, dns, ensurepip, wheel"], check=False
    )
    require(
        probe.returncode == 0, "needs python3-venv python3-wheel python3-nagiosplugin/dnspython"
    )
    tree, root = delivery.unpacked_sdist(), tmp_path / "root"
    dirs = {d: root / d for d in ("plugins", "opt", "icinga2/conf.d", "nagios-plugins/config")}
    for d in dirs.values():
        d.mkdir(parents=True)
    before = sorted(root.rglob("*"))
    lib = dirs["opt"] / "check_dnsbl"
    old_venv = [lib / "pyvenv.cfg", lib / "bin" / "check_dnsbl"]  # what make install once made
    for f in old_venv:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("")
    (dirs["plugins"] / "check_dnsbl").symlink_to(lib / "bin" / "check_dnsbl")
    variables = [
        f"PLUGINDIR={dirs['plugins']}",
        f"LIBDIR={lib}",
        f"ICINGA_CONFDIR={dirs['icinga2/conf.d'] / 'check_dnsbl'}",
        f"NAGIOS_CONFDIR={dirs['nagios-plugins/config']}",
    ]
    proc = make(tree, "install", "SYSTEM_DEPS=yes", *variables)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"check_dnsbl {__version__}\n"), proc.stdout  # its smoke test
    assert not any(f.exists() for f in old_venv)
    with DnsWorld(WORLD) as world:
        run = subprocess.run(
            [str(dirs["plugins"] / "check_dnsbl"), "--no-state", "-H", CLEAN, *LISTS,
             "-n", world.resolver],
            cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
    assert (run.returncode, run.stdout.splitlines()[0]) == FIRST_LINES[CLEAN]
    proc = make(tree, "uninstall", *variables)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(root.rglob("*")) == before


def test_make_install_refuses_what_is_not_its_own(tmp_path: Path) -> None:
    tree, stage = delivery.unpacked_sdist(), tmp_path / "stage"
    foreign = stage / "opt/check_dnsbl/precious"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("not ours")
    proc = make(tree, "install", f"DESTDIR={stage}", "SYSTEM_DEPS=yes")
    assert proc.returncode != 0
    assert f"{stage}/opt/check_dnsbl exists and is not check_dnsbl's: not touching it" in (
        proc.stdout
    )
    proc = make(tree, "uninstall", f"DESTDIR={stage}")
    assert proc.returncode != 0
    assert foreign.read_text() == "not ours"
    # A diversion of Debian's check_rbl is the package's business, never staged.
    proc = make(tree, "install", f"DESTDIR={stage}", "CHECK_RBL=yes")
    assert proc.returncode == 2
    assert "CHECK_RBL=yes with DESTDIR" in proc.stdout


def test_make_n_install_destdir_names_no_live_path() -> None:
    """Every path in the commands of `make -n install DESTDIR=/stage` is under
    /stage, but the interpreter and the paths only compared or written into
    files (the final LIBDIR)."""
    proc = make(ROOT, "-n", "install", "DESTDIR=/stage", "SYSTEM_DEPS=yes")
    assert proc.returncode == 0, proc.stderr
    words = shlex.split(proc.stdout.replace("\\\n", " "))
    paths = {w.lstrip("0123456789<>") for w in words} - {""}
    paths = {p for p in paths if p.startswith("/")}
    assert len([p for p in paths if p.startswith("/stage/")]) >= 6, paths
    read_or_named = {SYSPY, "/dev/null", "/opt/check_dnsbl", "/opt/check_dnsbl/bin/check_dnsbl"}
    assert {p for p in paths if not p.startswith("/stage/")} <= read_or_named, proc.stdout


# ------------------------------------------------ the host's services


SERVICE_CONTROL = re.compile(
    r"\b(systemctl|service|invoke-rc\.d|update-rc\.d|deb-systemd-invoke|deb-systemd-helper"
    r"|start-stop-daemon|pkill|killall|kill)\b"
)


def test_makefile_cannot_touch_a_host_service() -> None:
    """No recipe, nor the apt helper, controls a service; nor does any command
    that make demo, test, deb, check or bench would run."""
    for path in (ROOT / "Makefile", ROOT / "tools" / "apt-install"):
        code = [ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#")]
        assert [ln for ln in code if SERVICE_CONTROL.search(ln)] == [], path
    for target in ("demo", "test", "deb", "check", "bench", "install", "uninstall"):
        proc = make(ROOT, "-n", target)
        assert proc.returncode == 0, proc.stderr
        assert not SERVICE_CONTROL.search(proc.stdout), (target, proc.stdout)
    check = make(ROOT, "-n", "check").stdout
    assert "apt" not in check and "sudo" not in check and "pip install" not in check


def test_make_demo_needs_only_debian_packages() -> None:
    """make demo: three Debian packages, then /usr/bin/python3; no venv, no PyPI.
    Run from the unpacked sdist (APT=no): the three runs and their exit codes."""
    assert make(ROOT, "-n", "demo").stdout.splitlines() == [
        "tools/apt-install --no-install-recommends rbldnsd python3-nagiosplugin python3-dnspython",
        f"{SYSPY} demo/run.py",
    ]
    require_tool("rbldnsd")
    tree = delivery.unpacked_sdist()
    proc = make(tree, "demo", "APT=no")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    codes = re.findall(r"^\(exit code (\d)\)$", proc.stdout, re.M)
    assert codes == ["0", "2", "1"], proc.stdout  # clean, listed, a dead list beside a live one
    assert proc.stdout.rstrip().endswith("rbldnsd stopped")
    assert not (tree / ".venv").exists()


@pytest.fixture
def fake_apt(tmp_path: Path) -> dict[str, str]:
    """tools/apt-install with stand-ins for dpkg-query, apt-get and id on PATH
    (this test must not install anything): dpkg-query knows the packages in
    $INSTALLED; apt-get records what policy-rc.d answered for a start while it
    ran, then exits $APT_EXIT. policy-rc.d is a temp path (POLICY_RC_D)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "dpkg-query": 'for p in $INSTALLED; do [ "$p" = "${@: -1}" ] && '
                      'echo "install ok installed" && exit 0; done; exit 1',
        "apt-get": '[ "$1" = update ] && exit 0; "$POLICY_RC_D" unbound start; '
                   'echo "install $* -> policy $?" >> "$APT_LOG"; exit "$APT_EXIT"',
        "id": 'echo "$FAKE_UID"',
    }  # fmt: skip
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "POLICY_RC_D": str(tmp_path / "policy-rc.d"),
        "APT_LOG": str(tmp_path / "apt.log"),
        "APT_EXIT": "0",
        "FAKE_UID": "0",
        "INSTALLED": "rbldnsd",
    }


def apt_install(env: dict[str, str], *packages: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "tools" / "apt-install"), "--no-install-recommends", *packages],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


HOST_POLICY = "#!/bin/sh\n# the host's own\nexit 0\n"


@pytest.mark.parametrize("host_policy", [None, HOST_POLICY])
@pytest.mark.parametrize("apt_exit", ["0", "100"])
def test_apt_install_starts_no_daemon_and_restores_policy(
    fake_apt: dict[str, str], host_policy: str | None, apt_exit: str
) -> None:
    policy = Path(fake_apt["POLICY_RC_D"])
    if host_policy is not None:
        policy.write_text(host_policy)
        policy.chmod(0o750)
    proc = apt_install({**fake_apt, "APT_EXIT": apt_exit}, "rbldnsd", "unbound")
    assert proc.returncode == int(apt_exit), proc.stdout + proc.stderr
    # Only the missing package, and every start denied while apt-get ran.
    log = Path(fake_apt["APT_LOG"]).read_text()
    assert log == "install install -y -qq --no-install-recommends unbound -> policy 101\n"
    if host_policy is None:
        assert not policy.exists()
    else:
        assert policy.read_text() == host_policy
        assert stat.S_IMODE(policy.stat().st_mode) == 0o750
    assert [p.name for p in policy.parent.iterdir() if "policy" in p.name] == (
        [] if host_policy is None else ["policy-rc.d"]
    )


def test_apt_install_recovers_the_host_policy_after_a_kill(fake_apt: dict[str, str]) -> None:
    """A run killed with -9 left its own policy-rc.d and the host's beside it."""
    policy = Path(fake_apt["POLICY_RC_D"])
    saved = policy.with_name("policy-rc.d.check_dnsbl-saved")
    saved.write_text(HOST_POLICY)
    policy.write_text("#!/bin/sh\n# written by check_dnsbl's tools/apt-install\nexit 101\n")
    assert apt_install(fake_apt, "unbound").returncode == 0
    assert policy.read_text() == HOST_POLICY and not saved.exists()


def test_apt_install_needs_nothing_when_all_is_there(fake_apt: dict[str, str]) -> None:
    proc = apt_install({**fake_apt, "FAKE_UID": "1000"}, "rbldnsd")
    assert (proc.returncode, proc.stdout) == (0, "")
    assert not Path(fake_apt["APT_LOG"]).exists()
    proc = apt_install({**fake_apt, "FAKE_UID": "1000"}, "rbldnsd", "unbound")
    assert proc.returncode == 1
    assert proc.stdout == "missing Debian packages; as root: apt-get install unbound\n"
    assert not Path(fake_apt["APT_LOG"]).exists()
    assert not Path(fake_apt["POLICY_RC_D"]).exists()
