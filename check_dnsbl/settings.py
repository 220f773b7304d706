"""Frozen value objects for one run: what to check, where, and how long.

The CLI builds one Settings; the Resource, Contexts and Summary only read it.
"""

from dataclasses import dataclass
from pathlib import Path

from check_dnsbl.catalog import DnsblList
from check_dnsbl.resolvers import Resolver, Via
from check_dnsbl.targets import Target


@dataclass(frozen=True)
class Settings:
    """Everything one run needs, parsed and validated."""

    targets: tuple[Target, ...]
    lists: tuple[DnsblList, ...]
    resolvers: tuple[Resolver, ...]
    warning: int = 1
    critical: int = 2
    errors_warning: int = 1
    errors_critical: int = 0
    timeout: float = 15.0
    query_timeout: float = 2.0
    retries: int = 1
    workers: int = 128
    max_qps: float = 0.0
    #: The most addresses one run checks, -H networks, names and MX hosts together.
    max_addresses: int = 256
    verbosity: int = 0
    started: float = 0.0
    outbound_via: tuple[Via, ...] = ()
    #: Keys of keyed lists: never printed (see keys.redact).
    secrets: tuple[str, ...] = ()
    #: Listing history (see history); None with --no-state.
    state_file: Path | None = None
    #: At least this state ("warning" or "critical") when a listing is new.
    new_listing_state: str = ""
    #: The state comes only from new listings (a volatile companion service).
    new_listings_only: bool = False

    @property
    def deadline(self) -> float:
        """When the DNS work must end: the budget less a reserve for output."""
        return self.started + self.timeout - min(1.0, 0.1 * self.timeout)

    @property
    def lock_deadline(self) -> float:
        """How long the state-file lock may be waited for: half the reserve."""
        return self.started + self.timeout - min(0.5, 0.05 * self.timeout)
