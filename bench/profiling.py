"""Where check_dnsbl's time goes: import times and cProfile of real runs.

Starts the same loopback DNS world as ``bench.run`` (private network
namespace, 40 ms relay, uncached unbound), then:

* ``python -X importtime -m check_dnsbl ...`` for ``-V`` and for a real
  1 x 46 run: self and cumulative import time by top-level package;
* ``python -m cProfile -o ... -m check_dnsbl ...`` for 1 x 46 and the /24,
  summed by area (imports, dnspython, asyncio, nagiosplugin, check_dnsbl,
  ipaddress, ...) plus the top functions by own time.

Writes ``bench/results/profile.md`` (and the ``.prof`` files next to it, for
``python -m pstats`` or snakeviz). Run as root:
``.venv/bin/python -m bench.profiling``.
"""

import argparse
import marshal
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from bench import world as w

AREAS = (
    ("imports", ("<frozen importlib", "<frozen zipimport", "importlib/")),
    ("dnspython", ("/dns/",)),
    ("nagiosplugin", ("/nagiosplugin/",)),
    ("asyncio", ("/asyncio/", "selectors.py", "<method 'poll'", "socket")),
    ("check_dnsbl", ("/check_dnsbl/",)),
    ("ipaddress", ("ipaddress.py",)),
    ("argparse/tomllib/re", ("argparse.py", "tomllib/", "/re/", "sre_", "_parser.py")),
)


def area_of(filename: str, name: str) -> str:
    where = f"{filename}:{name}"
    for area, needles in AREAS:
        if any(n in where for n in needles):
            return area
    return "other (builtins, enum, dataclasses, ...)"


def run_args(addresses: Sequence[str], zones: Sequence[str]) -> list[str]:
    argv = [x for a in addresses for x in ("-H", a)] + w.zone_args(zones)
    return [*argv, "-n", w.RESOLVER, "-t", "15", "-w", "1", "-c", "1"]


def importtime(python: str, plugin: str, args: Sequence[str], top: int = 12) -> list[str]:
    """Cumulative import time per top-level package, and the start-up total. Runs the
    console script itself, as Nagios does (``-m`` would add runpy's imports)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [python, "-X", "importtime", plugin, *args],
        check=False,
        capture_output=True,
        text=True,
        cwd="/",
    )
    wall = time.perf_counter() - start
    cumulative: dict[str, int] = defaultdict(int)
    self_us: dict[str, int] = defaultdict(int)
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        own, cum, indent, module = int(m[1]), int(m[2]), len(m[3]), m[4]
        package = module.split(".")[0]
        self_us[package] += own
        if indent == 1:  # a top-level import: its cumulative time is not inside another
            cumulative[package] += cum
    total = sum(self_us.values())
    rows = [
        f"`check_dnsbl {' '.join(args[:1])}{' ...' if len(args) > 1 else ''}`: wall "
        f"{wall * 1000:.0f} ms, imports {total / 1000:.0f} ms in total (own time, all modules)",
        "",
        "| package | own ms | cumulative ms (top-level imports) |",
        "|---|---|---|",
    ]
    ranked = sorted(self_us, key=lambda p: -max(self_us[p], cumulative[p]))
    for package in ranked[:top]:
        rows.append(
            f"| {package} | {self_us[package] / 1000:.1f} | {cumulative[package] / 1000:.1f} |"
        )
    return rows


def cprofile(python: str, args: Sequence[str], out: Path, top: int = 20) -> list[str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [python, "-m", "cProfile", "-o", str(out), "-m", "check_dnsbl", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd="/",  # -m puts the cwd first on sys.path: never import a checkout by accident
    )
    wall = time.perf_counter() - start
    first = proc.stdout.splitlines()[0][:160] if proc.stdout else proc.stderr[-300:]
    with out.open("rb") as f:
        stats = marshal.load(f)  # pstats' on-disk format: {func: (cc, nc, tt, ct, callers)}
    by_area: dict[str, float] = defaultdict(float)
    total = 0.0
    funcs = []
    for (filename, line, name), (_, ncalls, tottime, cumtime, _) in stats.items():
        by_area[area_of(filename, name)] += tottime
        total += tottime
        funcs.append((tottime, cumtime, ncalls, f"{_short(filename)}:{line}({name})"))
    rows = [
        f"wall {wall:.2f} s under cProfile (profiling overhead included); output: `{first}`",
        "",
        f"Own time by area (sum {total:.2f} s):",
        "",
        "| area | own s | share |",
        "|---|---|---|",
    ]
    for area, seconds in sorted(by_area.items(), key=lambda kv: -kv[1]):
        rows.append(f"| {area} | {seconds:.3f} | {seconds / total:.0%} |")
    rows += ["", "Top functions by own time:", "", "| own s | cum s | calls | function |"]
    rows += ["|---|---|---|---|"]
    for tottime, cumtime, ncalls, where in sorted(funcs, reverse=True)[:top]:
        rows.append(f"| {tottime:.3f} | {cumtime:.3f} | {ncalls} | `{where}` |")
    cum = sorted(funcs, key=lambda f: -f[1])
    rows += ["", "Top functions by cumulative time:", "", "| cum s | own s | calls | function |"]
    rows += ["|---|---|---|---|"]
    for tottime, cumtime, ncalls, where in cum[:top]:
        rows.append(f"| {cumtime:.3f} | {tottime:.3f} | {ncalls} | `{where}` |")
    return rows


RATE = 250  # py-spy samples per second

#: Inclusive time of these frames (first match of name and file in a stack).
HOTSPOTS = (
    ("imports (importlib _find_and_load)", "_find_and_load", "importlib"),
    ("argparse (cli.parse, parse_known_args)", "parse_known_args", "argparse"),
    ("Catalog.load (catalog.toml)", "load", "catalog.py"),
    ("dns.message.make_query", "make_query", "dns/message.py"),
    ("Message.to_wire (render queries)", "to_wire", "dns/message.py"),
    ("dns.message.from_wire (parse replies)", "from_wire", "dns/message.py"),
    ("Message.is_response", "is_response", "dns/message.py"),
    ("transport.sendto", "sendto", "asyncio/"),
    ("asyncio.wait_for", "wait_for", "asyncio/tasks.py"),
    ("Semaphore acquire/release", "", "asyncio/locks.py"),
    ("secrets.randbelow", "randbelow", "secrets.py"),
    ("verdict (classify, self_tested, with_txt)", "", "check_dnsbl/verdict.py"),
    ("querynames", "", "check_dnsbl/querynames.py"),
    ("contexts (evaluate, performance)", "", "check_dnsbl/contexts.py"),
    ("summary (first line, long output)", "", "check_dnsbl/summary.py"),
    ("nagiosplugin (minus our callbacks)", "", "nagiosplugin/"),
)


def _frames(stack: str) -> list[tuple[str, str]]:
    """``name (file:line)`` frames of one py-spy raw stack, root first."""
    frames = []
    for frame in stack.split(";"):
        name, _, where = frame.partition(" (")
        path = where.rsplit(":", 1)[0]
        if not path.startswith(("/", "<")):
            path = "/" + path  # py-spy shortens site-packages paths: dns/name.py
        frames.append((name.strip(), path))
    return frames


def _matches(name: str, path: str, fname: str, fpath: str) -> bool:
    """A frame of ``fname`` (any class) in a file ``fpath``; any function but
    ``<module>`` (module bodies run while importing) when ``fname`` is empty."""
    if fpath not in path:
        return False
    if not fname:
        return name != "<module>"
    return name == fname or name.endswith("." + fname)


def pyspy(pyspy_exe: str, python: str, args: Sequence[str], out: Path, top: int = 15) -> list[str]:
    """Sample a real run with py-spy (low overhead): own time by area, hot spots."""
    start = time.perf_counter()
    record = [pyspy_exe, "record", "-r", str(RATE), "--nonblocking", "--format", "raw"]
    record += ["-o", str(out), "--"]
    proc = subprocess.run(
        [*record, python, "-m", "check_dnsbl", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd="/",
    )
    wall = time.perf_counter() - start
    if not out.exists():
        return [f"py-spy failed: {proc.stderr[-300:]}"]
    stacks: list[tuple[list[tuple[str, str]], int]] = []
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((_frames(stack), int(count)))
    total = sum(n for _, n in stacks) or 1
    own: dict[str, int] = defaultdict(int)
    leaf: dict[str, int] = defaultdict(int)
    hot: dict[str, int] = defaultdict(int)
    for frames, n in stacks:
        name, where = frames[-1]
        own[area_of(where, name)] += n
        leaf[f"{_short(where)}({name})"] += n
        for label, fname, fpath in HOTSPOTS:
            if fpath == "nagiosplugin/":
                idx = [i for i, (_, f) in enumerate(frames) if fpath in f]
                if idx and not any("check_dnsbl/" in f for _, f in frames[idx[-1] :]):
                    hot[label] += n
                continue
            if any(_matches(nm, f, fname, fpath) for nm, f in frames):
                hot[label] += n
    ms = 1000 / RATE  # one sample is this many ms of CPU
    rows = [
        f"wall {wall:.2f} s under py-spy ({RATE} Hz, idle excluded): {total} samples "
        f"= {total * ms / 1000:.2f} s on CPU",
        "",
        "| area (leaf frame) | ms | share |",
        "|---|---|---|",
    ]
    for area, n in sorted(own.items(), key=lambda kv: -kv[1]):
        rows.append(f"| {area} | {n * ms:.0f} | {n / total:.0%} |")
    rows += ["", "| hot spot (inclusive) | ms | share |", "|---|---|---|"]
    for label, _, _ in HOTSPOTS:
        rows.append(f"| {label} | {hot[label] * ms:.0f} | {hot[label] / total:.0%} |")
    rows += ["", "| leaf function | ms | share |", "|---|---|---|"]
    for where, n in sorted(leaf.items(), key=lambda kv: -kv[1])[:top]:
        rows.append(f"| `{where}` | {n * ms:.0f} | {n / total:.0%} |")
    return rows


def _short(filename: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", f"{w.REPO}/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profiling")
    p.add_argument("--plugin", default=str(w.REPO / ".venv" / "bin" / "check_dnsbl"))
    p.add_argument("--lists", type=int, default=46)
    p.add_argument("--delay", type=float, default=40.0, help="ms (default 40)")
    p.add_argument("--outdir", type=Path, default=w.REPO / "bench" / "results")
    p.add_argument("--py-spy", default="", help="py-spy to use (default: next to the plugin)")
    args = p.parse_args(argv)
    w.enter_netns()
    python = str(Path(args.plugin).parent / "python")
    workdir = w.make_workdir()
    w.setup_netns(workdir)
    zones = [w.zone_name(i) for i in range(1, args.lists + 1)]
    args.outdir.mkdir(parents=True, exist_ok=True)
    one = run_args([str(w.ADDRESS)], zones)
    net = run_args([str(a) for a in w.NETWORK], zones)
    slow_net = [*net[:-6], "-t", "120", "-w", "1", "-c", "1"]  # cProfile is ~3x slower
    spy = args.py_spy or shutil.which("py-spy", path=str(Path(args.plugin).parent)) or ""
    report = ["# check_dnsbl profile", ""]
    with w.removed_after(workdir, False), w.make_world(workdir, zones, args.delay / 1000):
        subprocess.run(
            [python, "-m", "check_dnsbl", *one], check=False, capture_output=True, cwd="/"
        )
        report += ["## Start-up: -X importtime", ""]
        report += [*importtime(python, args.plugin, ["-V"]), ""]
        report += [*importtime(python, args.plugin, one), ""]
        runs = (("1x46", "1 address x 46 lists", one, one), ("net", "/24", net, slow_net))
        for key, title, runargs, slow in runs:
            if spy:
                report += [f"## py-spy: {title}", ""]
                report += [*pyspy(spy, python, runargs, args.outdir / f"pyspy-{key}.txt"), ""]
            report += [f"## cProfile: {title}", ""]
            report += [*cprofile(python, slow, args.outdir / f"profile-{key}.prof"), ""]
    text = "\n".join(report)
    print(text)
    (args.outdir / "profile.md").write_text(text, encoding="utf-8")
    os.chmod(args.outdir / "profile.md", 0o644)
    return 0


if __name__ == "__main__":
    sys.exit(main())
