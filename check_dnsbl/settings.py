"""Settings: the frozen value object of one run (what to check, where, how
long), and the run's clock.

``options`` builds one Settings; the Resource, Contexts and Summary only read it.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

from check_dnsbl.catalog import DnsblList
from check_dnsbl.model import Resolver, Target, Via


def process_start() -> float:
    """When this process started, on the monotonic clock: the -t budget covers
    the interpreter's own start-up too. From /proc (Linux), else: now."""
    try:
        with open("/proc/self/stat", "rb") as f:
            ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic()
    return time.monotonic() - max(0.0, age)


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
    #: --direct: ask a list's own servers when the resolver's answer is unusable.
    direct: bool = False
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
    #: One perfdata series per list (labels.list_label), with --perfdata-per-list.
    perfdata_per_list: bool = False

    @property
    def deadline(self) -> float:
        """When the DNS work must end: the budget less a reserve for output."""
        return self.started + self.timeout - min(1.0, 0.1 * self.timeout)

    @property
    def lock_deadline(self) -> float:
        """How long the state-file lock may be waited for: half the reserve."""
        return self.started + self.timeout - min(0.5, 0.05 * self.timeout)
