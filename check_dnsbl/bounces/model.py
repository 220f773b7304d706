"""Value types of check_dnsbl_bounces, no I/O: what the log and the queue
showed, as the Contexts judge it and the Summary words it."""

from dataclasses import dataclass, field

from check_dnsbl.bounces.receivers import Citation
from check_dnsbl.catalog import DnsblList


@dataclass
class Group:
    """The recipients of one receiver domain that were refused citing one
    list, since the last run. ``words`` is what the remote server said last
    time; ``address`` the sending address it named (for the lookup URL)."""

    domain: str
    citation: Citation
    listing: DnsblList | None  # the catalog's entry; None for a list it does not know
    rejected: int = 0
    deferred: int = 0
    first: float = 0.0
    last: float = 0.0
    server: str = ""
    words: str = ""
    address: str = ""

    def add(self, when: float, hard: bool, server: str, words: str, address: str) -> None:
        if hard:
            self.rejected += 1
        else:
            self.deferred += 1
        self.first = min(self.first or when, when)
        if when >= self.last:
            self.last, self.server, self.words = when, server, words
            self.address = address or self.address

    @property
    def label(self) -> str:
        return self.citation.zone

    @property
    def critical(self) -> bool:
        """A hard rejection that cites a list the catalog rates critical."""
        return bool(self.rejected and self.listing and self.listing.severity == "critical")

    @property
    def unknown(self) -> bool:
        """A list the catalog does not know: a receiver's own, or a zone not in it."""
        return self.listing is None


@dataclass
class Waiting:
    """Deferred messages in the queue, for one receiver domain, whose reason
    cites a list."""

    domain: str
    lists: list[str] = field(default_factory=list)
    queue_ids: list[str] = field(default_factory=list)
    oldest: float = 0.0
    words: str = ""


@dataclass
class Evidence:
    """Everything the Summary words (the ``evidence`` metric's value)."""

    groups: list[Group] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    #: receiver domain -> when it last accepted mail, and when it last
    #: refused mail citing a list (from this run's lines and earlier runs').
    accepted: dict[str, float] = field(default_factory=dict)
    refused: dict[str, float] = field(default_factory=dict)
    log: str = ""
    lines: int = 0
    first_run: bool = False
    #: What the reader had to say (a rotation followed, a truncation, the rest
    #: left for the next run at -t).
    notes: list[str] = field(default_factory=list)
    #: Why a part of the check could not be done: each makes the run UNKNOWN.
    problems: list[str] = field(default_factory=list)
    queue_asked: bool = False
    retry: str = "postqueue -f"
