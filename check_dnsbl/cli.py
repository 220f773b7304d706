"""The command line: options -> Settings -> Check. The only module that exits.

Flags overlap check_rbl's where they can (-H, -s, -n, -w/-c as counts, -t),
so the ITL's ``rbl`` CheckCommand drives this plugin unchanged. Every way out
is a Nagios exit code with one line on stdout: usage errors are UNKNOWN (3),
never argparse's 2, never a traceback, nothing on stderr.
"""

import time


def _process_start() -> float:
    """When this process started, on the monotonic clock: the -t budget covers
    the interpreter's own start-up too. Linux /proc; else: now."""
    import os

    try:
        with open("/proc/self/stat", "rb") as f:
            ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic()
    return time.monotonic() - max(0.0, age)


STARTED = _process_start()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import ipaddress  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import NoReturn  # noqa: E402

from check_dnsbl import __version__, configfile  # noqa: E402
from check_dnsbl.catalog import Catalog, CatalogError, DnsblList, normalize_zone, parse_lists  # noqa: E402
from check_dnsbl.keys import KeyFileError, load_keys, redact, unkeyed  # noqa: E402
from check_dnsbl.resolvers import (  # noqa: E402
    default_vias,
    parse_resolver,
    parse_via,
    system_resolvers,
)
from check_dnsbl.settings import Settings  # noqa: E402
from check_dnsbl.targets import (  # noqa: E402
    HARD_MAX_ADDRESSES,
    Domain,
    Outbound,
    Target,
    parse_domain,
    parse_host,
    parse_mx,
)

PREFIX = "DNSBL"


class UsageError(Exception):
    """Bad command line; the message is the one line shown."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> object:
        # Python 3.11's argparse hands "-H--" an empty list instead of a string
        if action.nargs is None and action.option_strings and arg_strings in ([], ["--"]):
            self.error(f"argument {'/'.join(action.option_strings)}: expected one argument")
        return super()._get_values(action, arg_strings)


def one_line(text: str) -> str:
    """Echoed user input must not break the one-line rule: no line breaks or
    control characters, no ``|`` (Nagios would read the rest as perfdata)."""
    return "".join(ch if ch.isprintable() else " " for ch in text).replace("|", "/")


def _count(minimum: int, maximum: int = 1_000_000) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit() or not minimum <= int(text) <= maximum:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number from {minimum} to {maximum}"
            )
        return int(text)

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 3600):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0-3600)")
    return value


def _state_file(text: str) -> Path:
    from check_dnsbl.history import state_path

    try:
        return state_path(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> _Parser:
    p = _Parser(
        prog="check_dnsbl",
        add_help=False,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Check whether a mail server's address is listed on DNS blocklists (DNSBLs).\n"
            "Every list's answer ends as listed, not listed, or unusable (with the\n"
            "reason): an error code, a dead list or a timeout is never a listing."
        ),
        epilog=(
            "Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for usage errors,\n"
            "-h, -V and --show-lists).\n"
            "Perfdata: listed, lists, errors, time (s); new and delisted with the history;\n"
            "addresses(_listed), domains(_listed) when several targets are checked.\n"
            "--extra-opts=[section][@file] reads options from an ini file, as Monitoring\n"
            "Plugins do (e.g. Debian's check_rbl.ini: [rbl] server=...).\n"
            "--lists-file, key files and --extra-opts files must be regular UTF-8 files\n"
            f"of at most {configfile.LIMIT}."
        ),
    )
    a = p.add_argument
    a(
        "-H",
        "--host",
        "--hostname",
        dest="targets",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="what to check; repeatable: an IPv4 or IPv6 address; a network such as "
        "198.51.100.0/24 (every address, up to --max-addresses); a host name (every A and "
        "AAAA address); or 'outbound' (this host's public addresses, see --outbound)",
    )
    a(
        "--outbound",
        action="store_true",
        help="check this host's public IPv4 and IPv6 addresses, found over DNS by two "
        "methods (OpenDNS myip, Google o-o.myaddr); disagreement is reported",
    )
    a(
        "--outbound-via",
        action="append",
        default=[],
        metavar="METHOD=ADDR[:PORT]",
        help="server for a discovery method (opendns, google); repeatable; replaces the "
        "defaults resolver1.opendns.com and ns1.google.com",
    )
    a(
        "--mx",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="check every address of every MX host of DOMAIN; repeatable",
    )
    a(
        "-d",
        "--domain",
        dest="domains",
        action="append",
        default=[],
        metavar="NAME",
        help="check a domain (its registrable part) on the domain lists (Spamhaus DBL, "
        "SURBL, URIBL); repeatable",
    )
    a(
        "--max-addresses",
        type=_count(1),
        default=256,
        metavar="N",
        help=f"most addresses one run checks, networks, host names and MX hosts together "
        f"(default 256, at most {HARD_MAX_ADDRESSES}); addresses past it are named as not checked",
    )
    a(
        "-s",
        "--server",
        "--list",
        dest="zones",
        action="append",
        default=[],
        metavar="ZONE",
        help="DNSBL zone to ask; repeatable. Default: the built-in default set "
        "(see --show-lists).",
    )
    a(
        "--dqs-key-file",
        type=Path,
        metavar="PATH",
        help="file holding a Spamhaus DQS key (or set DNSBL_DQS_KEY): Spamhaus zones are "
        "then asked at <key>.<zone>.dq.spamhaus.net. Never give a key on the command line.",
    )
    a(
        "--abusix-key-file",
        type=Path,
        metavar="PATH",
        help="file holding an Abusix Mail Intelligence key (or set DNSBL_ABUSIX_KEY), "
        "for combined.mail.abusix.zone",
    )
    a(
        "--lists-file",
        type=Path,
        metavar="PATH",
        help="list definitions (TOML, same fields as the catalog); its lists replace "
        "the default set unless -s picks zones.",
    )
    a(
        "-n",
        "--nameserver",
        dest="nameservers",
        action="append",
        default=[],
        metavar="ADDR[:PORT]",
        help="resolver to use; repeatable; [IPv6]:PORT for IPv6. Default: /etc/resolv.conf. "
        "Use your own resolver: Spamhaus refuses public ones.",
    )
    a(
        "-w",
        "--warning",
        type=_count(1),
        default=1,
        metavar="N",
        help="WARNING when an address is listed on at least N lists (default 1)",
    )
    a(
        "-c",
        "--critical",
        type=_count(1),
        default=2,
        metavar="N",
        help="CRITICAL when an address is listed on at least N lists (default 2). "
        "A hit on a list of severity critical is CRITICAL by itself.",
    )
    a(
        "--errors-warning",
        type=_count(0),
        default=1,
        metavar="N",
        help="WARNING when at least N lists are unusable (default 1; 0 never)",
    )
    a(
        "--errors-critical",
        type=_count(0),
        default=0,
        metavar="N",
        help="CRITICAL when at least N lists are unusable (default 0: never)",
    )
    a(
        "-t",
        "--timeout",
        type=_seconds,
        default=15.0,
        metavar="SECONDS",
        help="whole-run budget (default 15); the result, with every answer received, "
        "is printed before it runs out",
    )
    a(
        "--query-timeout",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="wait for one answer before retrying (default 2)",
    )
    a(
        "--retries",
        "--retry",
        type=_count(0, 10),
        default=1,
        metavar="N",
        help="retries of an unanswered query, rotating through the resolvers (default 1)",
    )
    a(
        "--workers",
        type=_count(1, 4096),
        default=128,
        metavar="N",
        help="queries in flight at once (default 128: more overflow the socket's receive "
        "buffer on a stock Linux and cost retries)",
    )
    a(
        "--state-file",
        type=_state_file,
        metavar="PATH",
        help="listing history (first seen, NEW, delisted). Default: a file per service under "
        "$STATE_DIRECTORY, $XDG_STATE_HOME or ~/.local/state, in check_dnsbl/",
    )
    a("--no-state", action="store_true", help="keep no history: no NEW, no delisted")
    a(
        "--new-listings-only",
        action="store_true",
        help="the state comes only from new listings: OK unless this run found one, then "
        "--new-listing-state (default warning); for a volatile companion service",
    )
    a(
        "--new-listing-state",
        choices=("warning", "critical"),
        metavar="STATE",
        help="report at least this state (warning or critical) in a run that finds a new "
        "listing, for a volatile service that notifies once per new listing",
    )
    a(
        "--max-qps",
        type=_count(0),
        default=0,
        metavar="N",
        help="send at most N queries per second (default 0: no limit), to keep network "
        "checks within the lists' usage terms",
    )
    a("--show-lists", action="store_true", help="print the list catalog and exit")
    a(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more detail: -v every list's verdict, -vv query statistics, -vvv every "
        "list's self-test",
    )
    a("-V", "--version", action="store_true", help="print the version and exit")
    a("-h", "--help", action="store_true", help="print this help and exit")
    return p


def _targets(args: argparse.Namespace) -> tuple[Target, ...]:
    if args.max_addresses > HARD_MAX_ADDRESSES:
        raise UsageError(f"--max-addresses is at most {HARD_MAX_ADDRESSES}")
    targets: list[Target] = [t for h in args.targets for t in parse_host(h, args.max_addresses)]
    if args.outbound:
        targets.append(Outbound())
    targets += [parse_mx(m) for m in args.mx]
    targets += [parse_domain(d) for d in args.domains]
    if not targets:
        raise UsageError("nothing to check: give -H ADDRESS, --mx DOMAIN or -d DOMAIN")
    unique = tuple(dict.fromkeys(targets))
    # one cap for the whole run; names and MX hosts are cut at run time, and said so
    given = sum(1 for t in unique if isinstance(t, ipaddress.IPv4Address | ipaddress.IPv6Address))
    if given > args.max_addresses:
        raise UsageError(
            f"-H gives {given} addresses in all; the limit is {args.max_addresses} "
            f"(--max-addresses, at most {HARD_MAX_ADDRESSES})"
        )
    return unique


def _lists(
    args: argparse.Namespace, targets: tuple[Target, ...], keys: dict[str, str]
) -> tuple[tuple[DnsblList, ...], tuple[str, ...]]:
    """The lists to ask, keyed where a key is known, and every key in play.

    A zone may carry a key itself (``-s <key>.zen.dq.spamhaus.net``): it is
    then that list, asked with that key, and the key is a secret like one
    from a key file. One zone named twice, in any spelling, is asked once."""
    extra: tuple[DnsblList, ...] = ()
    if args.lists_file:
        try:
            text = configfile.read(args.lists_file, "--lists-file")
            extra = parse_lists(text, str(args.lists_file), default=True)
        except (configfile.ConfigFileError, CatalogError) as exc:
            raise UsageError(str(exc)) from None
    catalog = Catalog.load(extra)
    kinds = {"domain" if isinstance(t, Domain) else "ip" for t in targets}
    if args.zones:
        try:
            zones = dict.fromkeys(normalize_zone(z) for z in args.zones)  # GOOD.TEST. = good.test
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        named = tuple(catalog.get(zone) for zone in zones)
    elif extra:
        named = tuple(lst for lst in extra if lst.default)
    else:
        named = tuple(
            lst for kind in ("ip", "domain") if kind in kinds for lst in catalog.defaults(kind)
        )
    found = [unkeyed(lst, catalog.lists.values()) for lst in named]
    keys = {**{lst.key: secret for lst, secret in found if secret}, **keys}
    chosen: dict[str, DnsblList] = {}
    for lst, _ in found:
        keyed = lst.with_key(keys[lst.key]) if lst.key in keys and not lst.keyed else lst
        if keyed.zone not in chosen or keyed.keyed:  # the keyed way beats the public one
            chosen[keyed.zone] = keyed
    lists = tuple(chosen.values())
    for kind, what in (("ip", "addresses"), ("domain", "domains (-d)")):
        if kind in kinds and not any(lst.kind == kind for lst in lists):
            raise UsageError(f"no list of kind {kind!r} to ask about {what}: add one with -s")
    secrets = {*keys.values(), *(secret for _, secret in found if secret)}
    return lists, tuple(sorted(secrets))


#: Where Monitoring Plugins look for --extra-opts files without @file.
EXTRA_OPTS_FILES = (
    "/etc/nagios/plugins.ini",
    "/usr/local/nagios/etc/plugins.ini",
    "/usr/local/etc/nagios/plugins.ini",
    "/etc/opt/nagios/plugins.ini",
    "/etc/nagios-plugins.ini",
    "/usr/local/etc/nagios-plugins.ini",
    "/etc/opt/nagios-plugins.ini",
)


def expand_extra_opts(argv: Sequence[str], prog: str, known: Iterable[str]) -> list[str]:
    """Monitoring Plugins' ``--extra-opts=[section][@file]``: each ``key=value``
    line of the ini section becomes ``--key=value``, so Debian's Nagios
    ``check_rbl`` command and its check_rbl.ini ([rbl] server=...) work as is.
    A line that is no option of ours is refused without echoing it: it may
    hold a key (``dqs-key=...``)."""
    options = set(known)
    out: list[str] = []
    for arg in argv:
        if arg != "--extra-opts" and not arg.startswith("--extra-opts="):
            out.append(arg)
            continue
        section, _, path = arg.partition("=")[2].partition("@")
        section = section or prog
        files = [path] if path else [f for f in EXTRA_OPTS_FILES if Path(f).exists()]
        if not files:
            raise UsageError(f"--extra-opts: no file given and none of {EXTRA_OPTS_FILES[0]} etc.")
        try:
            lines = configfile.read(files[0], "--extra-opts file").splitlines()
        except configfile.ConfigFileError as exc:
            raise UsageError(str(exc)) from None
        current, found = None, False
        for number, line in enumerate((raw.strip() for raw in lines), 1):
            if line.startswith("[") and line.endswith("]"):
                current = line[1:-1].strip()
                found = found or current == section
            elif current == section and line and line[0] not in "#;":
                key, _, value = line.partition("=")
                if f"--{key.strip()}" not in options:
                    raise UsageError(
                        f"--extra-opts: line {number} of {files[0]} is not an option of "
                        f"{prog} (not shown: it may hold a secret)"
                    )
                out.append(f"--{key.strip()}={value.strip()}" if _ else f"--{key.strip()}")
        if not found:
            raise UsageError(f"--extra-opts: no section [{section}] in {files[0]}")
    return out


def _unrecognized(extras: list[str]) -> str:
    """What argparse did not know, by option name only: a value may be a key."""
    names = [arg.split("=", 1)[0] for arg in extras if arg.startswith("-")]
    if names:
        return "unrecognized arguments: " + " ".join(dict.fromkeys(names))
    return "unexpected argument (not shown): give what to check with -H, --mx or -d"


def parse(argv: Sequence[str]) -> Settings:
    """Validated Settings; UsageError with a one-line message otherwise."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    prog = "check_dnsbl" if prog in ("", "__main__.py", "-c") else prog
    parser = build_parser()
    args, extras = parser.parse_known_args(
        expand_extra_opts(argv, prog, parser._option_string_actions)
    )
    if extras:
        raise UsageError(_unrecognized(extras))
    if args.critical < args.warning:
        raise UsageError("-c must not be lower than -w")
    if args.new_listings_only and args.no_state:
        raise UsageError("--new-listings-only needs the history: drop --no-state")
    try:
        targets = _targets(args)
        resolvers = tuple(parse_resolver(n) for n in args.nameservers) or system_resolvers()
        vias = tuple(parse_via(v) for v in args.outbound_via) or default_vias()
        keys = load_keys({"dqs": args.dqs_key_file, "abusix": args.abusix_key_file})
    except (ValueError, KeyFileError) as exc:
        raise UsageError(str(exc)) from None
    lists, secrets = _lists(args, targets, keys)
    return Settings(
        targets=targets,
        lists=lists,
        resolvers=resolvers,
        warning=args.warning,
        critical=args.critical,
        errors_warning=args.errors_warning,
        errors_critical=args.errors_critical,
        timeout=args.timeout,
        query_timeout=args.query_timeout,
        retries=args.retries,
        workers=args.workers,
        max_qps=args.max_qps,
        max_addresses=args.max_addresses,
        verbosity=min(args.verbose, 3),
        started=STARTED,
        outbound_via=vias,
        secrets=secrets,
        state_file=None if args.no_state else args.state_file or _default_state(targets, lists),
        new_listing_state=args.new_listing_state or ("warning" if args.new_listings_only else ""),
        new_listings_only=args.new_listings_only,
    )


def _default_state(targets: tuple[Target, ...], lists: tuple[DnsblList, ...]) -> Path:
    from check_dnsbl.history import default_path

    return default_path([str(t) for t in targets], [lst.zone for lst in lists])


def show_lists() -> str:
    """The catalog as an aligned table, for --show-lists."""
    rows = [("ZONE", "DEFAULT", "SEVERITY", "IPV6", "NAME / STATUS", "LOOKUP")]
    for lst in Catalog.load().lists.values():
        if lst.dead:
            rows.append((lst.zone, "-", "-", "-", f"DEAD: {lst.dead}", "-"))
            continue
        ipv6 = {True: "yes", False: "no", None: "?"}[lst.ipv6]
        default = "yes" if lst.default else "no"
        rows.append((lst.zone, default, lst.severity, ipv6, lst.name, lst.url or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[5]
        for row in rows
    )


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
    """Run the check; always exits 0-3 with the result on stdout only."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser()
        args, _ = parser.parse_known_args(argv)
        if args.help:
            _exit(3, parser.format_help().rstrip())
        if args.version:
            _exit(3, f"check_dnsbl {__version__}")
        if args.show_lists:
            _exit(3, show_lists())
        settings = parse(argv)
    except UsageError as exc:
        _exit(3, one_line(f"{PREFIX} UNKNOWN - {exc} (see --help)"))
    except SystemExit:
        raise
    except Exception as exc:  # a bug must still give one line, never a traceback
        _exit(
            3,
            f"{PREFIX} UNKNOWN - internal error: {type(exc).__name__}: {exc}",
        )
    run(settings)


def run(settings: Settings) -> NoReturn:
    """Build the Check from Settings, run it, and print what it found.

    nagiosplugin's stages run as usual (Resource -> Contexts -> Summary); the
    output is laid out here instead of by its Runtime, so that it fits
    Nagios's 8 KB in bytes, perfdata included, and a stdout that cannot be
    written ends as exit 3 rather than a traceback. The alarm is a backstop
    only: the Resource ends its own work before settings.deadline."""
    try:
        import nagiosplugin

        from check_dnsbl.contexts import (
            ErrorsContext,
            NewListingContext,
            PerfContext,
            TargetContext,
            UncheckedContext,
        )
        from check_dnsbl.resource import Dnsbl
        from check_dnsbl.summary import DnsblSummary, render

        only_new = settings.new_listings_only
        check = nagiosplugin.Check(
            Dnsbl(settings),
            TargetContext(settings.warning, settings.critical, not only_new),
            ErrorsContext(
                0 if only_new else settings.errors_warning,
                0 if only_new else settings.errors_critical,
            ),
            UncheckedContext(not only_new),
            # with --new-listings-only the -w/-c counts do not apply: no ranges then
            PerfContext("listed", *(0, 0) if only_new else (settings.warning, settings.critical)),
            PerfContext("perf"),
            NewListingContext(settings.new_listing_state),
            DnsblSummary(settings.verbosity, settings.secrets),
        )
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(math.ceil(settings.timeout) + 1)
        check()
        signal.alarm(0)
        text = render(check, settings.secrets)
    except _Backstop:
        _exit(3, f"{PREFIX} UNKNOWN - plugin timed out: past -t {settings.timeout:g}")
    except Exception as exc:  # a bug must still give one line, never a traceback
        why = one_line(f"{type(exc).__name__}: {exc}")
        _exit(3, redact(f"{PREFIX} UNKNOWN - internal error: {why}", settings.secrets))
    _write(text)
    sys.exit(check.exitcode)
