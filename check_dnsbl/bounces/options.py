"""Options of check_dnsbl_bounces: the command line -> BouncesSettings.

The same conventions as check_dnsbl's (and parts of its parser): a usage
problem is a UsageError with one line, -h and -V an Answer; -w/-c are counts.
"""

import argparse
from collections.abc import Sequence
from pathlib import Path

from check_dnsbl import __version__
from check_dnsbl.bounces.settings import DEFAULT_LOG, BouncesSettings
from check_dnsbl.bounces.state import default_path
from check_dnsbl.options import Answer, UsageError, _count, _Parser, _seconds, _state_file
from check_dnsbl.settings import process_start


def _path(text: str) -> Path:
    if not text or "\0" in text:
        raise argparse.ArgumentTypeError("give a path")
    return Path(text).absolute()


def build_parser() -> _Parser:
    p = _Parser(
        prog="check_dnsbl_bounces",
        add_help=False,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Read the mail server's own evidence of blocklist rejections: the remote\n"
            "servers' rejections and deferrals in the MTA's log (Postfix) since the last\n"
            "run, and, with --queue, the deferred mail still waiting because of a list.\n"
            "It counts what the receivers said, also for private lists no DNSBL checker\n"
            "can ask (Outlook.com S3150, GMX/WEB.DE, T-Online, ...)."
        ),
        epilog=(
            "Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for usage errors,\n"
            "-h and -V). CRITICAL: a hard rejection citing a list the catalog rates\n"
            "critical; WARNING: deferrals, a list the catalog does not know, mail waiting.\n"
            "Perfdata: rejected, deferred, receivers, lists; queued with --queue.\n"
            "The log is read only from where the last run stopped (the state file),\n"
            "across a rotation by renaming or copytruncate. --queue runs postqueue -j\n"
            "(Postfix 3.1+), which only lists: the queue is never flushed nor changed."
        ),
    )
    a = p.add_argument
    a(
        "--log",
        type=_path,
        default=DEFAULT_LOG,
        metavar="FILE",
        help=f"the MTA's log (default {DEFAULT_LOG}); the monitoring user must be able to "
        "read it (Debian: group adm)",
    )
    a(
        "--queue",
        action="store_true",
        help="also count deferred messages whose reason cites a blocklist, per receiver "
        "(postqueue -j), and say when a listing is gone and the mail can be retried",
    )
    a(
        "--postfix-config",
        type=_path,
        metavar="DIR",
        help="the Postfix instance's configuration directory, for --queue (postqueue -c "
        "DIR); default: Postfix's own",
    )
    a(
        "--state-file",
        type=_state_file,
        metavar="PATH",
        help="where the last run stopped reading the log. Default: a file per log under "
        "$STATE_DIRECTORY, $XDG_STATE_HOME or ~/.local/state, in check_dnsbl/",
    )
    a(
        "-w",
        "--warning",
        type=_count(0),
        default=1,
        metavar="N",
        help="WARNING when at least N recipients were rejected or deferred citing a "
        "blocklist since the last run (default 1; 0 never)",
    )
    a(
        "-c",
        "--critical",
        type=_count(0),
        default=0,
        metavar="N",
        help="CRITICAL when at least N were (default 0: never by count; a hard rejection "
        "citing a critical list is CRITICAL by itself)",
    )
    a(
        "-t",
        "--timeout",
        type=_seconds,
        default=15.0,
        metavar="SECONDS",
        help="whole-run budget (default 15); what is left of the log is read next run",
    )
    a(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more detail: what was read of the log, and each remembered receiver's last "
        "refusal and acceptance (the long output always names each receiver, list and link)",
    )
    a("-V", "--version", action="store_true", help="print the version and exit")
    a("-h", "--help", action="store_true", help="print this help and exit")
    return p


def parse(argv: Sequence[str], prog: str = "check_dnsbl_bounces") -> BouncesSettings:
    """Validated settings for ``argv``; UsageError or Answer."""
    parser = build_parser()
    args, extras = parser.parse_known_args(list(argv))
    if args.help:
        raise Answer(parser.format_help().rstrip())
    if args.version:
        raise Answer(f"check_dnsbl_bounces {__version__}")
    if extras:
        names = [arg.split("=", 1)[0] for arg in extras if arg.startswith("-")]
        raise UsageError(
            "unrecognized arguments: " + " ".join(dict.fromkeys(names))
            if names
            else "unexpected argument: this plugin takes options only"
        )
    if args.critical and args.critical < args.warning:
        raise UsageError("-c must not be lower than -w")
    if args.postfix_config and not args.queue:
        raise UsageError("--postfix-config is for --queue: add --queue")
    return BouncesSettings(
        log=args.log,
        state_file=args.state_file or default_path(args.log),
        queue=args.queue,
        config_dir=args.postfix_config,
        warning=args.warning,
        critical=args.critical,
        timeout=args.timeout,
        verbosity=min(args.verbose, 1),
        started=process_start(),
    )
