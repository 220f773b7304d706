"""Where queries go: recursive resolvers (-n) and outbound-discovery servers.

Plain value objects and parsers, no DNS code, so option parsing stays cheap.
"""

import ipaddress
from dataclasses import dataclass
from pathlib import Path


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


#: Outbound discovery methods: the name asked, and the default servers
#: (resolver1.opendns.com and ns1.google.com, IPv4 and IPv6).
DISCOVERY = {
    "opendns": ("myip.opendns.com", ("208.67.222.222", "2620:119:35::35")),
    "google": ("o-o.myaddr.l.google.com", ("216.239.32.10", "2001:4860:4802:32::a")),
}


@dataclass(frozen=True)
class Via:
    """One discovery method asked of one server."""

    method: str
    server: Resolver


def default_vias() -> tuple[Via, ...]:
    return tuple(
        Via(method, Resolver(address))
        for method, (_, servers) in DISCOVERY.items()
        for address in servers
    )


def parse_via(text: str) -> Via:
    """``METHOD=ADDR[:PORT]``; ValueError otherwise."""
    method, sep, server = text.partition("=")
    if not sep or method not in DISCOVERY:
        raise ValueError(
            f"{text!r}: use METHOD=ADDR[:PORT] with METHOD one of {', '.join(DISCOVERY)}"
        )
    return Via(method, parse_resolver(server))
