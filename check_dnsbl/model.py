"""The value types of a run, with no I/O: where queries go, what is checked,
what the resolver said, what each list's answer means, and what the run found.

Every stage hands these on and none of them does anything: the Resource
builds them, the Contexts and the Summary only read them.
"""

import enum
import ipaddress
from dataclasses import dataclass, field
from functools import cached_property

from check_dnsbl.catalog import DnsblList, Kind, Severity, most_severe

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# --- where queries go ---------------------------------------------------------


@dataclass(frozen=True)
class Resolver:
    """A DNS server to send queries to: a recursive resolver (-n), or a
    discovery server (--outbound-via)."""

    host: str
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Via:
    """One outbound-discovery method asked of one server."""

    method: str
    server: Resolver


# --- what the command line names ------------------------------------------------


@dataclass(frozen=True)
class HostName:
    name: str  # A-labels: what is resolved
    given: str = field(default="", compare=False)  # as given, when it differs (an IDN)


@dataclass(frozen=True)
class MxOf:
    domain: str  # A-labels
    given: str = field(default="", compare=False)  # as given, when it differs (an IDN)


@dataclass(frozen=True)
class Outbound:
    """This host's public addresses, found over DNS."""


@dataclass(frozen=True)
class Domain:
    name: str  # registrable domain, A-labels: what domain lists are asked about
    given: str  # as given, when it differs (a host name, an IDN)


Target = IPAddress | HostName | MxOf | Outbound | Domain


def kind(target: Target) -> Kind:
    """Which lists judge a target: domain lists a -d domain, IP lists the rest."""
    return "domain" if isinstance(target, Domain) else "ip"


@dataclass(frozen=True)
class Subject:
    """One thing the lists are asked about: an address or a domain."""

    value: IPAddress | str
    origin: str = ""  # where it came from: a host name, "MX of ...", "outbound"

    @property
    def kind(self) -> Kind:
        return "domain" if isinstance(self.value, str) else "ip"

    @property
    def family(self) -> str:
        """ "4", "6" or "domain": what the RFC 5782 self-test is run for."""
        return "domain" if isinstance(self.value, str) else str(self.value.version)


@dataclass(frozen=True)
class Unchecked:
    """Something the command line names that yielded nothing to check, and why."""

    what: str  # "b.example.com (MX of example.com)", "outbound"
    reason: str  # one line: "cannot resolve b.example.com (MX of example.com): no such name"


# --- what the resolver said -----------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """The resolver's answer: its rcode and the records of the asked type."""

    rcode: str
    records: tuple[str, ...] = ()
    #: The AA bit: what a server asked directly (RD=0) must set (--direct).
    authoritative: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Failure:
    """No usable reply; the reason in words."""

    reason: str


Outcome = Reply | Failure
#: How the reason of a query that was never sent begins.
NOT_ASKED = "not asked before the deadline (-t)"


# --- what it means --------------------------------------------------------------


class Status(enum.Enum):
    LISTED = "listed"  # on a blocklist
    RATED = "rated"  # on an allowlist or reputation zone: never a listing
    CLEAN = "not listed"
    UNUSABLE = "unusable"
    NOT_APPLICABLE = "not applicable"

    @property
    def entry(self) -> bool:
        """The list has an entry for it (RFC 5782: an A record), whatever
        the entry means: what the self-test asks of its test entries."""
        return self in (Status.LISTED, Status.RATED)


@dataclass(frozen=True)
class Verdict:
    """One list's verdict on one address or domain."""

    dnsbl: DnsblList
    status: Status
    codes: tuple[ipaddress.IPv4Address, ...] = ()
    reason: str = ""
    txt: str = ""
    #: The list's own server asked for it (--direct), as ``name [address]``.
    direct: str = ""

    @cached_property
    def severity(self) -> Severity:
        """How severe this listing is: its most severe code decides, each
        code's own severity overriding the list's."""
        if not (self.codes and self.dnsbl.documented):
            return self.dnsbl.severity
        return most_severe(self.dnsbl.severity_of(code) for code in self.codes)

    @property
    def counts(self) -> bool:
        """A listing that counts toward the thresholds (info codes and info
        lists never do; allowlist and reputation hits are never listings)."""
        return self.status is Status.LISTED and self.severity != "info"


@dataclass(frozen=True)
class TargetReport:
    """Every list's verdict on one address or domain."""

    target: str
    origin: str
    kind: Kind
    verdicts: tuple[Verdict, ...]

    @cached_property
    def _by_status(self) -> dict[Status, tuple[Verdict, ...]]:
        """The verdicts of each status, in list order: built once, since a
        /20 on 60 lists asks 245,760 verdicts several times over."""
        groups: dict[Status, list[Verdict]] = {}
        for v in self.verdicts:
            groups.setdefault(v.status, []).append(v)
        return {status: tuple(group) for status, group in groups.items()}

    def having(self, *statuses: Status) -> tuple[Verdict, ...]:
        if len(statuses) == 1:
            return self._by_status.get(statuses[0], ())
        return tuple(v for v in self.verdicts if v.status in statuses)

    @cached_property
    def counted(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.having(Status.LISTED) if v.counts)

    @cached_property
    def asked(self) -> int:
        """Blocklists that could judge this target (not-applicable ones, and
        allowlists and reputation zones, excluded)."""
        blocklists = sum(1 for v in self.verdicts if v.dnsbl.blocks)
        return blocklists - sum(1 for v in self.having(Status.NOT_APPLICABLE) if v.dnsbl.blocks)

    @property
    def clean(self) -> tuple[Verdict, ...]:
        """Blocklists that do not list it (an allowlist without an entry for
        it says nothing, good or bad)."""
        return tuple(v for v in self.having(Status.CLEAN) if v.dnsbl.blocks)


# --- what the run found besides the verdicts ------------------------------------


@dataclass
class Changes:
    """What this run learned from the history; ``problem`` when it has none,
    ``warning`` for what it had to drop or reset."""

    since: dict[str, float] = field(default_factory=dict)  # "target zone" -> first seen
    new: set[str] = field(default_factory=set)
    delisted: dict[str, float] = field(default_factory=dict)  # "target zone" -> first seen
    earlier: dict[str, float] = field(default_factory=dict)  # "target zone" -> delisted at
    problem: str = ""
    warning: str = ""


@dataclass(frozen=True)
class SelfTest:
    """One list's RFC 5782 self-test for one family: its verdicts on the
    entry that must be listed and on the one that must not."""

    zone: str
    entries: tuple[str, str]
    verdicts: tuple[Verdict, Verdict]


@dataclass(frozen=True)
class Discovery:
    """What outbound discovery found: each address with the methods that saw
    it, and each method (with its server) that failed, with the reason."""

    found: tuple[tuple[IPAddress, tuple[str, ...]], ...]
    failed: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Findings:
    """Everything the run found besides the verdicts themselves: the Summary
    words it, the Contexts never need it."""

    unchecked: tuple[Unchecked, ...] = ()
    changes: Changes = field(default_factory=Changes)
    discovery: Discovery | None = None
    self_tests: tuple[SelfTest, ...] = ()
    #: (target, list) pairs: all of them, and those the deadline left unasked
    pairs: int = 0
    not_asked: int = 0
    queries: int = 0
    #: queries sent to the lists' own servers (--direct)
    direct: int = 0
    junk: int = 0
