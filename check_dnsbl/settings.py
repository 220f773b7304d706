"""Frozen value objects for one run: what to check, where, and how long.

The CLI builds one Settings; the Resource, Contexts and Summary only read it.
"""

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from check_dnsbl.catalog import DnsblList
from check_dnsbl.querynames import IPAddress

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$"
)


@dataclass(frozen=True)
class Resolver:
    """A recursive resolver to send queries to."""

    host: str
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_resolver(text: str) -> Resolver:
    """``ADDR``, ``ADDR:PORT``, ``V6ADDR`` or ``[V6ADDR]:PORT``; ValueError otherwise."""
    host, port = text.strip(), "53"
    if host.startswith("["):
        host, sep, rest = host[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: use [IPv6]:PORT")
        port = rest[1:] or port
    elif host.count(":") == 1:
        host, port = host.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address (ADDR[:PORT] or [IPv6]:PORT)") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: port must be 1-65535")
    return Resolver(str(address), int(port))


def system_resolvers(path: Path = Path("/etc/resolv.conf")) -> tuple[Resolver, ...]:
    """The nameservers of resolv.conf; 127.0.0.1 when it names none, as glibc does."""
    found = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                found.append(Resolver(str(ipaddress.ip_address(fields[1].split("%")[0]))))
            except ValueError:
                continue
    return tuple(found) or (Resolver("127.0.0.1"),)


def parse_target(text: str) -> IPAddress | str:
    """An IP address, or a host name to resolve; ValueError otherwise."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        name = text.strip().lower().removesuffix(".")
        if _HOSTNAME.match(name) and not name.replace(".", "").isdigit():
            return name
    raise ValueError(f"{text!r} is not an IP address or host name")


@dataclass(frozen=True)
class Settings:
    """Everything one run needs, parsed and validated."""

    targets: tuple[IPAddress | str, ...]
    lists: tuple[DnsblList, ...]
    resolvers: tuple[Resolver, ...]
    warning: int = 1
    critical: int = 2
    errors_warning: int = 1
    errors_critical: int = 0
    timeout: float = 15.0
    query_timeout: float = 2.0
    retries: int = 1
    workers: int = 256
    verbosity: int = 0
    started: float = 0.0

    @property
    def deadline(self) -> float:
        """When the DNS work must end: the budget less a reserve for output."""
        return self.started + self.timeout - min(1.0, 0.1 * self.timeout)
