"""BouncesSettings: the frozen value object of one check_dnsbl_bounces run."""

from dataclasses import dataclass
from pathlib import Path

#: Debian's rsyslog writes the mail facility here.
DEFAULT_LOG = Path("/var/log/mail.log")


@dataclass(frozen=True)
class BouncesSettings:
    """Everything one run needs, parsed and validated."""

    log: Path
    state_file: Path
    queue: bool = False
    #: A Postfix instance's configuration directory (postqueue -c); None: the default.
    config_dir: Path | None = None
    #: WARNING / CRITICAL at this many refused recipients (0: never).
    warning: int = 1
    critical: int = 0
    timeout: float = 15.0
    verbosity: int = 0
    started: float = 0.0

    @property
    def deadline(self) -> float:
        """When the reading must end: the budget less a reserve for output."""
        return self.started + self.timeout - min(1.0, 0.1 * self.timeout)
