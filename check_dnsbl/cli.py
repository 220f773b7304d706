"""The command line's way in and out: argv -> options -> the Check -> stdout
and an exit code. The only module that exits.

Every way out is a Nagios exit code with its text on stdout: usage errors
are one line of UNKNOWN (3), never argparse's 2, never a traceback, nothing
on stderr (Icinga 2 merges stderr into the check output).
"""

import contextlib
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

from check_dnsbl.keys import redact
from check_dnsbl.options import Answer, UsageError, parse
from check_dnsbl.settings import Settings

if TYPE_CHECKING:
    import nagiosplugin

PREFIX = "DNSBL"
S = TypeVar("S")


def one_line(text: str) -> str:
    """Echoed user input must not break the one-line rule: no line breaks or
    control characters, no ``|`` (Nagios would read the rest as perfdata)."""
    return "".join(ch if ch.isprintable() else " " for ch in text).replace("|", "/")


def _write(text: str) -> None:
    """Put ``text`` on stdout. When stdout cannot take it (a full disk, a
    closed pipe, no stdout at all) nothing else can be said: exit 3, with
    stdout pointed at /dev/null so that Python's own flush at exit stays quiet."""
    try:
        out = sys.stdout
        if hasattr(out, "buffer"):
            out.buffer.write(text.encode("utf-8", "replace"))
            out.buffer.flush()
        else:  # a test's redirect_stdout
            out.write(text)
            out.flush()
    except (OSError, ValueError, AttributeError):
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        raise SystemExit(3) from None


def _exit(state: int, line: str) -> NoReturn:
    _write(line + "\n")
    sys.exit(state)


class _Backstop(Exception):
    """The run outlived its -t budget (the Resource should never let it)."""


def _alarm(signum: int, frame: object) -> NoReturn:
    raise _Backstop("plugin timed out")


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the check; always exits 0-3 with the result on stdout only.
    ``argv`` (tests) defaults to the process's own, whose name then picks the
    --extra-opts section (installed as check_rbl, it reads [rbl])."""
    prog = "check_dnsbl"
    if argv is None:
        argv = sys.argv[1:]
        name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
        prog = name if name not in ("", "__main__.py", "-c") else prog
    run(parsed(parse, argv, prog, PREFIX))


def parsed(
    parse: Callable[[Sequence[str], str], S], argv: Sequence[str], prog: str, prefix: str
) -> S:
    """What ``parse`` makes of ``argv``; a usage error, -h or -V exits 3 with
    its one line (or the help text)."""
    try:
        return parse(argv, prog)
    except Answer as answer:
        _exit(3, str(answer))
    except UsageError as exc:
        _exit(3, one_line(f"{prefix} UNKNOWN - {exc} (see --help)"))
    except KeyboardInterrupt:
        _exit(3, f"{prefix} UNKNOWN - interrupted")
    except Exception as exc:  # a bug must still give one line, never a traceback
        _exit(3, one_line(f"{prefix} UNKNOWN - internal error: {type(exc).__name__}: {exc}"))


def run(settings: Settings) -> NoReturn:
    """Build the Check from Settings, run it, and print what it found."""

    def build() -> "nagiosplugin.Check":
        import nagiosplugin

        from check_dnsbl import contexts
        from check_dnsbl.resource import Dnsbl
        from check_dnsbl.summary import DnsblSummary

        return nagiosplugin.Check(
            Dnsbl(settings), *contexts.build(settings), DnsblSummary(settings)
        )

    finish(build, settings.timeout, settings.secrets, PREFIX)


def finish(
    build: Callable[[], "nagiosplugin.Check"],
    timeout: float,
    secrets: tuple[str, ...],
    prefix: str,
) -> NoReturn:
    """Run the Check that ``build`` makes and print what it found.

    nagiosplugin's stages run as usual (Resource -> Contexts -> Summary); the
    output is laid out here instead of by its Runtime, so that it fits
    Nagios's 8 KB in bytes, perfdata included, and a stdout that cannot be
    written ends as exit 3 rather than a traceback. The alarm is a backstop
    only: the Resource ends its own work before the run's deadline."""
    try:
        from check_dnsbl.summary import render

        check = build()
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(math.ceil(timeout) + 1)
        check()
        signal.alarm(0)
        text = render(check, secrets)
    except _Backstop:
        _exit(3, f"{prefix} UNKNOWN - plugin timed out: past -t {timeout:g}")
    except KeyboardInterrupt:
        _exit(3, f"{prefix} UNKNOWN - interrupted")
    except Exception as exc:  # a bug must still give one line, never a traceback
        why = one_line(f"{type(exc).__name__}: {exc}")
        _exit(3, redact(f"{prefix} UNKNOWN - internal error: {why}", secrets))
    _write(text)
    sys.exit(check.exitcode)
