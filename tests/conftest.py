"""Shared test helpers: run the plugin as Icinga does and read its output."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent

#: The hypothesis profile of every property test: small, derandomized, no
#: database, so CI is fast and every run tries the same examples.
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile("ci")


@dataclass(frozen=True)
class Run:
    """One plugin run: exit code and output, with the parts Icinga reads."""

    returncode: int
    stdout: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def first_line(self) -> str:
        return self.lines[0]

    @property
    def long_output(self) -> list[str]:
        return [line for line in self.lines[1:] if not line.startswith("| ")]

    @property
    def perfdata(self) -> dict[str, str]:
        """label -> the whole value field (``value[uom];warn;crit;min;max``)."""
        perf = [line[2:] for line in self.lines if line.startswith("| ")]
        assert len(perf) <= 1, self.stdout
        return dict(item.split("=", 1) for item in (perf[0].split() if perf else []))

    def value(self, label: str) -> str:
        return self.perfdata[label].split(";")[0]


def check_dnsbl(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
    """Run ``python -m check_dnsbl`` with this interpreter, as a monitoring core would.

    Every run must keep stderr empty (Icinga 2 merges it into the output) and
    never print a traceback. Runs keep no history unless a test asks for it
    (--state-file, or STATE_DIRECTORY in ``env``), so each test stands alone.
    """
    history = "--state-file" in args or "STATE_DIRECTORY" in (env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "check_dnsbl", *args, *([] if history else ["--no-state"])],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        check=False,
    )
    assert proc.stderr == "", proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout
    assert proc.returncode in (0, 1, 2, 3), proc
    return Run(proc.returncode, proc.stdout)
