"""check_dnsbl against check_rbl, side by side, on a loopback DNS world.

Starts rbldnsd (N zones), a relay that adds a round-trip delay and drops one
zone, and an uncached unbound, all inside a private network namespace (see
``bench/world.py``), then runs both plugins alternately on the same lists and
addresses and prints a Markdown table: median and spread of wall time, CPU
time (user+sys of the child, from ``os.wait4``), peak RSS, and the ratio
check_dnsbl/check_rbl taken pair by pair. Every run's output is checked
against the zone data (exit state and counts), not only timed.

Run as root: ``make bench`` or ``.venv/bin/python -m bench.run --help``.
A benchmark, never a test: nothing here fails on a slow machine, only on a
wrong plugin answer (exit status 1).
"""

import argparse
import compileall
import contextlib
import ipaddress
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import world as w
from tests.dnsworld import DnsWorld, relay_control

CHECK_RBL = "/usr/lib/nagios/plugins/check_rbl"
#: Where ``make install CHECK_RBL=yes`` moves Debian's Perl check_rbl (dpkg-divert).
CHECK_RBL_DIVERTED = "/usr/lib/nagios/plugins/check_rbl.check_rbl-perl"
STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
RUN_GRACE = 10.0  # a run is killed this long after its own -t
INCOMPLETE = "incomplete:"  # a problem that is a timeout reported as such, not a wrong answer
X, DASH = "\u00d7", "\u2013"  # multiplication sign and en dash, for the tables


@dataclass
class Sample:
    """One measured run (or, for check_rbl on a network, the sum of its runs)."""

    wall: float
    cpu: float
    rss_mb: float
    queries: int
    exit: int
    output: str
    drops: int = 0  # UDP datagrams dropped on full receive buffers (any socket) meanwhile
    runs: int = 1
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    addresses: tuple[ipaddress.IPv4Address, ...]
    zones: tuple[str, ...]
    timeout: int
    reps: int


class Spawner:
    """``bench/spawn.py``: the small process that starts and measures the plugins,
    so that this harness's own peak RSS (dnspython) is not the RSS column's floor."""

    def __init__(self) -> None:
        script = str(Path(__file__).with_name("spawn.py"))
        self.proc = subprocess.Popen(
            [sys.executable, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def ask(self, request: dict[str, object]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("bench: bench/spawn.py died")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


@dataclass(frozen=True)
class Plugins:
    """The two programs and how to drive them."""

    dnsbl: str
    rbl: str
    rbl_source: str  # where the Perl check_rbl was copied from
    cidr: bool  # check_dnsbl takes -H 192.0.2.0/24 (else 256 -H)
    rbl_limit: int  # check_rbl runs on the first N addresses of a network
    spawner: Spawner


# --------------------------------------------------------------------------
# Running one plugin process


def measure(p: Plugins, argv: Sequence[str], timeout: float) -> Sample:
    """Run ``argv`` once (``Spawner``), counting the queries and UDP drops meanwhile."""
    before, drops = relay_control(w.RELAY_CONTROL)["received"], w.udp_drops()
    run = p.spawner.ask({"argv": list(argv), "timeout": timeout})
    return Sample(
        wall=run["wall"],
        cpu=run["cpu"],
        rss_mb=run["rss_kb"] / 1024,
        queries=relay_control(w.RELAY_CONTROL)["received"] - before,
        exit=run["exit"],
        output=run["output"],
        drops=w.udp_drops() - drops,
    )


def combine(samples: list[Sample]) -> Sample:
    """Sequential runs as one: summed times and queries, the largest RSS."""
    return Sample(
        wall=sum(s.wall for s in samples),
        cpu=sum(s.cpu for s in samples),
        rss_mb=max(s.rss_mb for s in samples),
        queries=sum(s.queries for s in samples),
        exit=max(s.exit for s in samples),
        output=samples[0].output,
        drops=sum(s.drops for s in samples),
        runs=len(samples),
        problems=[p for s in samples for p in s.problems],
    )


# --------------------------------------------------------------------------
# The two plugins


def dnsbl_argv(p: Plugins, sc: Scenario) -> list[str]:
    if p.cidr and len(sc.addresses) == w.NETWORK.num_addresses:
        hosts = ["-H", str(w.NETWORK)]
    else:
        hosts = [x for a in sc.addresses for x in ("-H", str(a))]
    argv = [p.dnsbl, *hosts, *w.zone_args(sc.zones), "-n", w.RESOLVER, "-t", str(sc.timeout)]
    return [*argv, "-w", "1", "-c", "1"]  # check_rbl's thresholds: any listing is CRITICAL


def rbl_argv(p: Plugins, sc: Scenario, address: ipaddress.IPv4Address) -> list[str]:
    argv = [p.rbl, "-H", str(address), *w.zone_args(sc.zones)]
    return [*argv, "-n", w.RESOLVER, "-t", str(sc.timeout)]


def perfdata(output: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=([-\d.]+)", output.split("|", 1)[1] if "|" in output else ""))


def verify_dnsbl(sc: Scenario, s: Sample) -> list[str]:
    """check_dnsbl's answer matches the zone data: state, hits, lists, errors."""
    hits = {a: w.expected_hits(a, sc.zones) for a in sc.addresses}
    dead = [z for z in sc.zones if z == w.DEAD_ZONE]
    want_exit = 2 if any(hits.values()) else (1 if dead else 0)
    want = {
        "lists": str(len(sc.zones)),
        "errors": str(len(dead)),
        "listed": str(sum(hits.values())),
    }
    if len(sc.addresses) > 1:
        want["addresses"] = str(len(sc.addresses))
        want["addresses_listed"] = str(sum(1 for n in hits.values() if n))
    problems = []
    got = perfdata(s.output)
    errors = int(float(got.get("errors", "0")))
    if errors > len(dead) and re.search(r"timeout|deadline", s.output):
        # Not a wrong answer: some lists timed out, and the plugin said so.
        return [f"{INCOMPLETE} {errors - len(dead)} more lists unusable (timeouts)"]
    if s.exit != want_exit:
        problems.append(f"exit {s.exit}, expected {want_exit}: {s.output.strip()[:160]}")
    for key, value in want.items():
        if got.get(key) != value:
            problems.append(f"perfdata {key}={got.get(key)}, expected {value}")
    if dead and w.DEAD_ZONE not in s.output:
        problems.append(f"the output does not name {w.DEAD_ZONE} as unusable")
    return problems


def verify_rbl(sc: Scenario, address: ipaddress.IPv4Address, s: Sample) -> list[str]:
    """check_rbl's answer matches the zone data (not judged when a zone is dead)."""
    if w.DEAD_ZONE in sc.zones:
        return []  # its outcome is reported as observed, see rbl_outcome()
    hits = w.expected_hits(address, sc.zones)
    want = f"BLACKLISTED on {hits} {'server' if hits == 1 else 'servers'} of {len(sc.zones)}"
    problems = []
    if s.exit != (2 if hits else 0):
        problems.append(f"{address}: exit {s.exit}, expected {2 if hits else 0}")
    if want not in s.output:
        problems.append(f"{address}: output lacks {want!r}: {s.output.strip()[:120]}")
    return problems


def rbl_outcome(s: Sample) -> str:
    first = s.output.strip().splitlines()[0] if s.output.strip() else "(no output)"
    return f"{STATES.get(s.exit, s.exit)}: {first.split('|')[0].strip()}"


def run_dnsbl(p: Plugins, sc: Scenario) -> Sample:
    s = measure(p, dnsbl_argv(p, sc), sc.timeout + RUN_GRACE)
    s.problems = verify_dnsbl(sc, s)
    return s


def run_rbl(p: Plugins, sc: Scenario) -> Sample:
    """check_rbl takes one address: a network is one run per address, in sequence."""
    limit = min(p.rbl_limit, len(sc.addresses))
    samples = []
    for address in sc.addresses[:limit]:
        s = measure(p, rbl_argv(p, sc, address), sc.timeout + RUN_GRACE)
        s.problems = verify_rbl(sc, address, s)
        samples.append(s)
    total = combine(samples)
    if limit < len(sc.addresses):  # extrapolate the sums to every address
        scale = len(sc.addresses) / limit
        total.wall, total.cpu = total.wall * scale, total.cpu * scale
        total.queries = round(total.queries * scale)
    return total


# --------------------------------------------------------------------------
# Statistics and the tables


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}{DASH}{fmt.format(max(values))})"


@dataclass
class Result:
    sc: Scenario
    dnsbl: list[Sample] = field(default_factory=list)
    rbl: list[Sample] = field(default_factory=list)

    def ratios(self, attr: str) -> list[float]:
        pairs = zip(self.dnsbl, self.rbl, strict=True)
        return [getattr(d, attr) / getattr(r, attr) for d, r in pairs if getattr(r, attr) > 0]

    def median(self, who: str, attr: str) -> float:
        values: list[float] = [getattr(s, attr) for s in getattr(self, who)]
        return statistics.median(values)


def run_scenario(world: DnsWorld, sc: Scenario, p: Plugins, log: Callable[[str], None]) -> Result:
    fresh = w.DEAD_ZONE in sc.zones  # each run meets a resolver that never saw the dead list
    result = Result(sc)
    # One untimed warm-up of each: page cache, .pyc files, unbound's RTT estimate.
    run_dnsbl(p, sc)
    if len(sc.addresses) == 1 and not fresh:
        run_rbl(p, sc)
    for rep in range(sc.reps):
        order = ("dnsbl", "rbl") if rep % 2 == 0 else ("rbl", "dnsbl")
        for who in order:
            if fresh:
                world.restart_resolver()
            if who == "dnsbl":
                s = run_dnsbl(p, sc)
                result.dnsbl.append(s)
            else:
                s = run_rbl(p, sc)
                result.rbl.append(s)
            log(
                f"  {sc.key} {rep + 1}/{sc.reps} {who:5}: wall {s.wall:6.2f} s, "
                f"cpu {s.cpu:6.2f} s, rss {s.rss_mb:5.1f} MB, exit {s.exit}, "
                f"{s.queries} queries, {s.drops} UDP drops"
                + (f"; PROBLEMS: {s.problems[:3]}" if s.problems else "")
            )
    if fresh:
        world.restart_resolver()
    return result


def wrong(s: Sample) -> list[str]:
    """The problems that are wrong answers (not timeouts the plugin reported)."""
    return [p for p in s.problems if not p.startswith(INCOMPLETE)]


def _drops(samples: list[Sample]) -> str:
    drops = [s.drops for s in samples]
    return f" ({spread(drops, '{:.0f}')} UDP drops)" if any(drops) else ""


def results_table(results: list[Result]) -> list[str]:
    rows = [
        "| scenario | plugin | wall s | CPU s | peak RSS MB | queries/run | outputs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for who, name in (("dnsbl", "check_dnsbl"), ("rbl", "check_rbl")):
            samples: list[Sample] = getattr(r, who)
            runs = samples[0].runs
            label = name if runs == 1 else f"{name} {X}{runs} runs"
            if len(r.sc.addresses) > runs and who == "rbl":
                label += f" (sums {X}{len(r.sc.addresses) / runs:g})"
            bad = sum(1 for s in samples if wrong(s))
            late = sum(1 for s in samples if s.problems and not wrong(s))
            if who == "rbl" and w.DEAD_ZONE in r.sc.zones:
                verdict = "; ".join(sorted({rbl_outcome(s)[:70] for s in samples}))
            elif not bad and not late:
                verdict = "all as expected"
            else:
                parts = [f"**{bad} of {len(samples)} wrong**"] if bad else []
                if late:
                    parts.append(
                        f"**{late} of {len(samples)} incomplete** (lists timed out, said so)"
                    )
                verdict = "; ".join(parts)
            rows.append(
                f"| {r.sc.title} | {label} | {spread([s.wall for s in samples])} | "
                f"{spread([s.cpu for s in samples])} | "
                f"{spread([s.rss_mb for s in samples], '{:.1f}')} | "
                f"{statistics.median(s.queries for s in samples):.0f}{_drops(samples)} | "
                f"{verdict} |"
            )
        rows.append(
            f"| {r.sc.title} | **ratio** dnsbl/rbl | **{spread(r.ratios('wall'))}** | "
            f"**{spread(r.ratios('cpu'))}** | **{spread(r.ratios('rss_mb'))}** | | |"
        )
    return rows


def judge(results: dict[str, Result], startup: dict[str, list[float]], delay: float) -> list[str]:
    """One row per target of issue 6: measured value and whether it is met."""
    rows = ["| scenario | target | measured | met? |", "|---|---|---|---|"]

    def yes(ok: bool) -> str:
        return "yes" if ok else "**no**"

    if "1x1" in results:
        r = results["1x1"]
        wall, cpu = statistics.median(r.ratios("wall")), statistics.median(r.ratios("cpu"))
        rows.append(
            f"| {r.sc.title} | wall and CPU ≤ 1.0{X} check_rbl | median ratio: wall "
            f"{wall:.2f}{X}, CPU {cpu:.2f}{X} | {yes(wall <= 1.0 and cpu <= 1.0)} |"
        )
    if "1x46" in results:
        r = results["1x46"]
        ratio = statistics.median(r.ratios("wall"))
        rows.append(
            f"| {r.sc.title} | wall ≤ 0.8{X} check_rbl | median ratio {ratio:.2f}{X} "
            f"| {yes(ratio <= 0.8)} |"
        )
        if "dnsbl" in startup:
            zero = statistics.median(startup["dnsbl"])
            bound = zero + 3 * delay
            wall = r.median("dnsbl", "wall")
            rows.append(
                f"| {r.sc.title} | wall ≤ start-up + 3 round trips | median {wall:.3f} s; "
                f"bound {zero:.3f} s (same run, 0 ms delay) + 3 {X} {delay * 1000:.0f} ms "
                f"= {bound:.3f} s | {yes(wall <= bound)} |"
            )
    if "drop" in results:
        r = results["drop"]
        wall = max(s.wall for s in r.dnsbl)
        complete = all(not s.problems for s in r.dnsbl)
        outcome = "; ".join(sorted({rbl_outcome(s)[:60] for s in r.rbl}))
        rows.append(
            f"| {r.sc.title} | result in ≤ 5 s with the other {len(r.sc.zones) - 1} verdicts "
            f"| slowest {wall:.2f} s, verdicts {'complete' if complete else '**missing**'}; "
            f"check_rbl {r.median('rbl', 'wall'):.1f} s, {outcome} | "
            f"{yes(wall <= 5 and complete)} |"
        )
    if "net" in results:
        r = results["net"]
        wall, rss = max(s.wall for s in r.dnsbl), max(s.rss_mb for s in r.dnsbl)
        complete = all(not s.problems for s in r.dnsbl)
        rows.append(
            f"| {r.sc.title} | ≤ 5 s wall, ≤ 60 MB peak RSS | slowest {wall:.2f} s, "
            f"largest {rss:.1f} MB, verdicts {'complete' if complete else '**incomplete**'} "
            f"(check_rbl: {len(r.sc.addresses)} runs, {r.median('rbl', 'wall'):.0f} s) | "
            f"{yes(wall <= 5 and rss <= 60 and complete)} |"
        )
    return rows


# --------------------------------------------------------------------------
# Machine and software facts


def _cmd(argv: Sequence[str]) -> str:
    try:
        out = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({exc})"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else ""


def machine_info(p: Plugins) -> list[str]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    vpy = str(Path(p.dnsbl).parent / "python")
    versions = _cmd(
        [
            vpy,
            "-c",
            "import importlib.metadata as m, sys; print(f'Python {sys.version.split()[0]}, "
            "dnspython', m.version('dnspython') + ', nagiosplugin', m.version('nagiosplugin'))",
        ]
    )
    head = _cmd(["git", "-C", str(w.REPO), "describe", "--always", "--dirty"])
    pkgs = _cmd(["dpkg-query", "-W", "-f=${Package} ${Version}, ", "unbound", "rbldnsd"])
    netdns = _cmd(["perl", "-MNet::DNS", "-e", "print qq{Net::DNS $Net::DNS::VERSION}"])
    debian = Path("/etc/debian_version").read_text().strip()
    return [
        f"- Machine: {cpu}, {os.cpu_count()} CPUs, {mem} MB RAM, "
        f"Linux {platform.release()}, Debian {debian}",
        f"- check_dnsbl: `{p.dnsbl}` ({_cmd([p.dnsbl, '-V'])}, tree {head}; {versions})",
        f"- check_rbl: a copy of `{p.rbl_source}` ({_cmd([p.rbl, '-V']).split(' [')[0]}; "
        f"{_cmd(['perl', '-e', 'print qq{Perl $^V}'])}, {netdns}); 20 queries in flight",
        f"- DNS: {pkgs.rstrip(', ')}; delay relay in Python (tests/dnsrelay.py)",
    ]


# --------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description=(__doc__ or "").split("\n\n")[0]
    )
    a = p.add_argument
    a("--plugin", default=str(w.REPO / ".venv" / "bin" / "check_dnsbl"), help="check_dnsbl")
    a("--check-rbl", default=CHECK_RBL, help=f"Perl check_rbl (default {CHECK_RBL})")
    a("--reps", type=int, default=7, help="pairs per fast scenario (default 7)")
    a("--reps-slow", type=int, default=3, help="pairs for the dropping and /24 scenarios (3)")
    a("--lists", type=int, default=46, help="number of test zones (default 46)")
    a("--delay", type=float, default=40.0, help="round-trip delay, ms (default 40)")
    a("--scenarios", default="1x1,1x46,drop,net", help="subset of 1x1,1x46,drop,net")
    a(
        "--rbl-addresses",
        type=int,
        default=256,
        help="/24: run check_rbl on the first N addresses only and scale its sums "
        "(default 256: all, no extrapolation)",
    )
    a(
        "--net-form",
        choices=("auto", "cidr", "hosts"),
        default="auto",
        help="/24 for check_dnsbl: -H 192.0.2.0/24 (cidr) or 256 -H (hosts); "
        "auto: cidr when its --help mentions networks",
    )
    a("--keep", action="store_true", help="keep the work directory (zones, configs, logs)")
    a("--quick", action="store_true", help="--reps 3 --reps-slow 1 --rbl-addresses 32")
    a(
        "--output",
        type=Path,
        default=w.REPO / "bench" / "results" / "latest.md",
        help="Markdown report (default bench/results/latest.md)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.reps, args.reps_slow, args.rbl_addresses = 3, 1, 32
    if not 1 <= args.lists <= 99 or args.reps < 1 or args.reps_slow < 1:
        p.error("--lists must be 1..99 and --reps/--reps-slow at least 1")
    if not 0 <= args.delay <= 1000:
        p.error("--delay must be 0..1000 ms")
    args.rbl_addresses = max(1, min(w.NETWORK.num_addresses, args.rbl_addresses))
    return args


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    zones = tuple(w.zone_name(i) for i in range(1, args.lists + 1))
    n, one, every = args.lists, (w.ADDRESS,), tuple(w.NETWORK)
    drop_zones = (*zones[:-1], w.DEAD_ZONE)
    all_ = [
        Scenario("1x1", f"1 address {X} 1 list", one, zones[:1], 15, args.reps),
        Scenario("1x46", f"1 address {X} {n} lists", one, zones, 15, args.reps),
        Scenario(
            "drop", f"1 address {X} {n} lists, 1 dropping", one, drop_zones, 15, args.reps_slow
        ),
        Scenario("net", f"/24 {X} {n} lists", every, zones, 15, args.reps_slow),
    ]
    wanted = args.scenarios.split(",")
    unknown = set(wanted) - {s.key for s in all_}
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return [s for s in all_ if s.key in wanted]


def perl_check_rbl(path: str, workdir: Path) -> tuple[str, str]:
    """A private copy of the Perl check_rbl (``path``, or Debian's diverted copy when
    ``make install CHECK_RBL=yes`` put check_dnsbl there), so that installing or
    removing that drop-in while the benchmark runs cannot swap the program under it."""
    for candidate in (path, CHECK_RBL_DIVERTED):
        try:
            script = Path(candidate).read_bytes()
        except OSError:
            continue
        if script.startswith(b"#!") and b"perl" in script.split(b"\n", 1)[0]:
            copy = workdir / "check_rbl"
            copy.write_bytes(script)
            copy.chmod(0o755)
            return str(copy), candidate
    raise SystemExit(
        f"bench: no Perl check_rbl at {path} (apt install monitoring-plugins-contrib)"
    )


def takes_networks(plugin: str, wanted: str) -> bool:
    """Whether check_dnsbl takes ``-H 192.0.2.0/24`` (``auto``: its --help says so)."""
    if wanted != "auto":
        return wanted == "cidr"
    out = subprocess.run([plugin, "--help"], check=False, capture_output=True, text=True)
    return bool(re.search(r"\bnetwork\b", out.stdout))


def calibrate(
    world: DnsWorld, sc: Scenario, p: Plugins, reps: int, delay: float
) -> dict[str, list[float]]:
    """The 1 x N run with no delay (start-up + CPU), and ``check_dnsbl -V``."""
    world.set_delay(0.0)
    startup: dict[str, list[float]] = {"dnsbl": [], "rbl": [], "version": []}
    run_dnsbl(p, sc)
    for _ in range(reps):
        startup["dnsbl"].append(run_dnsbl(p, sc).wall)
        startup["rbl"].append(run_rbl(p, sc).wall)
        startup["version"].append(measure(p, [p.dnsbl, "-V"], 10).wall)
    world.set_delay(delay)
    return startup


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    w.enter_netns()  # re-executes this command inside a private network namespace
    if not os.access(args.plugin, os.X_OK):
        raise SystemExit(f"bench: {args.plugin} not found or not executable (make venv)")
    # Measure the plugin as installed: a .deb or pip install has its bytecode
    # compiled; a checkout under PYTHONDONTWRITEBYTECODE never would, and each
    # run would compile the whole package again (about 20 ms of CPU).
    compileall.compile_dir(w.REPO / "check_dnsbl", quiet=1)
    command = shlex.join(["python", "-m", "bench.run", *sys.argv[1:]])
    started = time.time()
    load_before = os.getloadavg()

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    workdir = w.make_workdir()
    w.setup_netns(workdir)
    rbl, rbl_source = perl_check_rbl(args.check_rbl, workdir)
    spawner = Spawner()
    plugins = Plugins(
        dnsbl=args.plugin,
        rbl=rbl,
        rbl_source=rbl_source,
        cidr=takes_networks(args.plugin, args.net_form),
        rbl_limit=args.rbl_addresses,
        spawner=spawner,
    )
    chosen = scenarios(args)
    zones = [w.zone_name(i) for i in range(1, args.lists + 1)]
    delay = args.delay / 1000
    results: dict[str, Result] = {}
    startup: dict[str, list[float]] = {}
    with (
        w.removed_after(workdir, args.keep),
        contextlib.closing(spawner),
        w.make_world(workdir, zones, delay) as world,
    ):
        info = machine_info(plugins)
        notes = w.verify(world, delay)
        for note in notes:
            log(f"world: {note}")
        base = next((s for s in chosen if s.key == "1x46"), None)
        if base is not None:
            startup = calibrate(world, base, plugins, args.reps, delay)
            log(
                f"at 0 ms delay: check_dnsbl {spread(startup['dnsbl'], '{:.3f}')} s, "
                f"check_rbl {spread(startup['rbl'], '{:.3f}')} s, "
                f"check_dnsbl -V {spread(startup['version'], '{:.3f}')} s"
            )
        for sc in chosen:
            log(f"scenario {sc.title}: {sc.reps} pairs")
            results[sc.key] = run_scenario(world, sc, plugins, log)
        relay_cpu = world.relay_stats()["cpu_ms"] / 1000
        floor = spawner.ask({})["peak_rss_kb"] / 1024
    load_after = os.getloadavg()

    report = [
        "# check_dnsbl vs check_rbl",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))} "
        f"({time.time() - started:.0f} s). Command: `make bench` = `{command}` "
        "(as root, from the repository root).",
        "",
        *info,
        f"- World: {args.lists} rbldnsd zones (+1 whose queries the relay drops) behind a "
        f"relay adding {args.delay:g} ms per query, unbound with caching off, all in a "
        "private network namespace; resolver 127.53.0.1:53 for both plugins. "
        f"Checked first: {notes[0]}",
        "- The /24 for check_dnsbl: "
        + (f"`-H {w.NETWORK}`" if plugins.cidr else f"{w.NETWORK.num_addresses} `-H` options")
        + f"; check_rbl takes one address per run, so it runs {w.NETWORK.num_addresses} times "
        "in sequence (times and queries summed, RSS the largest).",
        f"- Both with `-w 1 -c 1 -t 15` (check_rbl's defaults); load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; relay CPU {relay_cpu:.1f} s "
        "in all.",
        f"- Each cell: median ({'min' + DASH + 'max'}) over the pairs. Ratio: "
        "check_dnsbl/check_rbl per pair, same run, order alternating. Queries/run: "
        "queries reaching the list server (the relay); UDP drops: datagrams lost to a full "
        "socket receive buffer in the namespace (a client too slow to read its replies). "
        f"Peak RSS cannot read below the {floor:.1f} MB peak of the process that starts "
        "the plugins (bench/spawn.py; Linux carries a parent's peak into ru_maxrss).",
        "",
        *results_table(list(results.values())),
        "",
    ]
    if startup:
        report += [
            f"At 0 ms delay, 1 address {X} {args.lists} lists: check_dnsbl "
            f"{spread(startup['dnsbl'], '{:.3f}')} s, check_rbl "
            f"{spread(startup['rbl'], '{:.3f}')} s; `check_dnsbl -V` "
            f"{spread(startup['version'], '{:.3f}')} s.",
            "",
        ]
    report += ["Targets of issue 6:", "", *judge(results, startup, delay), ""]
    report += ["First output line of the first run:", "", "```"]
    for r in results.values():
        for who, name in (("dnsbl", "check_dnsbl"), ("rbl", "check_rbl")):
            lines = getattr(r, who)[0].output.strip().splitlines() or [""]
            report.append(f"{r.sc.title}, {name}: {lines[0][:300]}")
    report += ["```", ""]
    text = "\n".join(report)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    log(f"saved to {args.output}")
    bad = [p for r in results.values() for s in (*r.dnsbl, *r.rbl) for p in wrong(s)]
    if bad:
        log(f"WRONG ANSWERS ({len(bad)}): " + "; ".join(bad[:5]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
