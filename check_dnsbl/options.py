"""Options: the command line (and --extra-opts) -> validated Settings.

Flags overlap check_rbl's where they can (-H, -s, -n, -w/-c as counts, -t),
so the ITL's ``rbl`` CheckCommand drives this plugin unchanged. Every problem
is a UsageError with a one-line message; -h, -V and --show-lists are an
Answer, the text to print. Parsing stays cheap: no DNS code is imported here.
"""

import argparse
import ipaddress
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from check_dnsbl import __version__, configfile, extraopts, publicsuffix
from check_dnsbl.catalog import Catalog, CatalogError, DnsblList, normalize_zone, parse_lists
from check_dnsbl.history import default_path
from check_dnsbl.keys import KeyFileError, load_keys
from check_dnsbl.labels import list_labels
from check_dnsbl.model import Target, kind
from check_dnsbl.outbound import default_vias, parse_via
from check_dnsbl.resolvers import parse_resolver, system_resolvers
from check_dnsbl.settings import Settings, process_start
from check_dnsbl.statefile import state_path
from check_dnsbl.targets import HARD_MAX_ADDRESSES, parse_domain, parse_host, parse_mx


class UsageError(Exception):
    """Bad command line; the message is the one line shown."""


class Answer(Exception):
    """Not a check: the text to print for -h, -V or --show-lists."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> object:
        # Python 3.11's argparse hands "-H--" an empty list instead of a string
        if action.nargs is None and action.option_strings and arg_strings in ([], ["--"]):
            self.error(f"argument {'/'.join(action.option_strings)}: expected one argument")
        return super()._get_values(action, arg_strings)


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
            "addresses(_listed), domains(_listed) when several targets are checked;\n"
            "list_<zone> per list with --perfdata-per-list.\n"
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
        help="check a domain on the domain lists (Spamhaus DBL, SURBL, URIBL): its "
        "registrable part by the Public Suffix List (foo.github.io, example.co.uk); "
        "repeatable",
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
    a(
        "--perfdata-per-list",
        action="store_true",
        help="add one perfdata series per list, labelled list_ and the zone with every "
        "character but a-z, 0-9 and - as _ (zen.spamhaus.org: list_zen_spamhaus_org): "
        "the number of targets listed on it (0 or 1 for one address), absent in a run "
        "where the list gave no usable answer",
    )
    a(
        "--direct",
        action="store_true",
        help="when the resolver's answer is unusable (refused, SERVFAIL, rewritten, timed "
        "out), ask the list's own servers (NS of the zone, port 53, no recursion); never "
        "for keyed lists; up to 3 of a zone's servers in turn, until one answers the "
        "self-test; costs 2-4 queries per list to find them (NS, then A), then the "
        "unusable pairs and the self-test asked again",
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
        targets += parse_host("outbound", args.max_addresses)
    targets += [parse_mx(m) for m in args.mx]
    if args.domains:
        suffixes = publicsuffix.load()
        targets += [parse_domain(d, suffixes) for d in args.domains]
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
    kinds = {kind(t) for t in targets}
    if args.zones:
        try:
            zones = dict.fromkeys(normalize_zone(z) for z in args.zones)  # GOOD.TEST. = good.test
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        named = tuple(catalog.get(zone) for zone in zones)
    elif extra:
        named = tuple(lst for lst in extra if lst.default)
    else:
        named = tuple(lst for k in ("ip", "domain") if k in kinds for lst in catalog.defaults(k))
    found = [catalog.unkeyed(lst) for lst in named]
    keys = {**{lst.key: secret for lst, secret in found if secret}, **keys}
    chosen: dict[str, DnsblList] = {}
    for lst, _ in found:
        keyed = lst.with_key(keys[lst.key]) if lst.key in keys and not lst.keyed else lst
        if keyed.zone not in chosen or keyed.keyed:  # the keyed way beats the public one
            chosen[keyed.zone] = keyed
    lists = tuple(chosen.values())
    for k, what in (("ip", "addresses"), ("domain", "domains (-d)")):
        if k in kinds and not any(lst.kind == k for lst in lists):
            raise UsageError(f"no list of kind {k!r} to ask about {what}: add one with -s")
    secrets = {*keys.values(), *(secret for _, secret in found if secret)}
    return lists, tuple(sorted(secrets))


def _unrecognized(extras: list[str]) -> str:
    """What argparse did not know, by option name only: a value may be a key."""
    names = [arg.split("=", 1)[0] for arg in extras if arg.startswith("-")]
    if names:
        return "unrecognized arguments: " + " ".join(dict.fromkeys(names))
    return "unexpected argument (not shown): give what to check with -H, --mx or -d"


def parse(argv: Sequence[str], prog: str = "check_dnsbl") -> Settings:
    """Validated Settings for ``argv``; ``prog`` names the --extra-opts
    section read by default (check_rbl's ini has [rbl]). UsageError with a
    one-line message, or Answer for -h, -V and --show-lists."""
    parser = build_parser()
    try:
        expanded = extraopts.expand(argv, prog, parser._option_string_actions)
    except extraopts.ExtraOptsError as exc:
        raise UsageError(str(exc)) from None
    args, extras = parser.parse_known_args(expanded)
    if args.help:
        raise Answer(parser.format_help().rstrip())
    if args.version:
        raise Answer(f"check_dnsbl {__version__}")
    if args.show_lists:
        raise Answer(Catalog.load().table())
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
    if args.perfdata_per_list:
        try:
            list_labels(lst.zone for lst in lists)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
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
        direct=args.direct,
        max_addresses=args.max_addresses,
        verbosity=min(args.verbose, 3),
        started=process_start(),
        outbound_via=vias,
        secrets=secrets,
        state_file=None if args.no_state else args.state_file or _default_state(targets, lists),
        new_listing_state=args.new_listing_state or ("warning" if args.new_listings_only else ""),
        new_listings_only=args.new_listings_only,
        perfdata_per_list=args.perfdata_per_list,
    )


def _default_state(targets: tuple[Target, ...], lists: tuple[DnsblList, ...]) -> Path:
    return default_path([str(t) for t in targets], [lst.zone for lst in lists])
