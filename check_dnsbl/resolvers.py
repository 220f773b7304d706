"""Where queries go: the recursive resolvers of -n, or of /etc/resolv.conf.

Parsers only, no DNS code, so option parsing stays cheap.
"""

import ipaddress
from pathlib import Path

from check_dnsbl.model import Resolver


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
