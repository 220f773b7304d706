"""Targets: what -H, --mx and -d name, parsed from their text. Pure: the
names are resolved later, by ``subjects``.

``-H`` takes an address, a network (every address, up to a limit), a host
name (every A and AAAA) or ``outbound`` (this host's public addresses, see
``outbound``); ``--mx`` every address of every MX host of a domain; ``-d`` a
domain for the domain lists.
"""

import ipaddress
import re

from check_dnsbl.model import Domain, HostName, MxOf, Outbound, Target
from check_dnsbl.querynames import canonical, registrable_domain

#: The most addresses one run may check, whatever --max-addresses says: a
#: /20 across the default lists is already some 33,000 queries.
HARD_MAX_ADDRESSES = 4096
#: IPv4-mapped IPv6 (RFC 4291 §2.5.5.2): the same addresses as IPv4.
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$"
)


def _host_name(text: str) -> str:
    name = text.strip().lower().removesuffix(".")
    if not _HOSTNAME.match(name) or name.replace(".", "").isdigit():
        raise ValueError(f"{text!r} is not an IP address or host name")
    return name


def parse_host(text: str, max_addresses: int) -> tuple[Target, ...]:
    """A ``-H`` value; ValueError with a one-line message otherwise."""
    text = text.strip()
    if text.lower() == "outbound":
        return (Outbound(),)
    if "/" in text:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not a network (ADDRESS/PREFIX)") from None
        if network.num_addresses > max_addresses:
            raise ValueError(
                f"{text} has {network.num_addresses} addresses; the limit is {max_addresses} "
                f"(--max-addresses, at most {HARD_MAX_ADDRESSES})"
            )
        if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
            network = ipaddress.IPv4Network(
                (int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96)
            )
        return tuple(network) if network.num_addresses > 1 else (network.network_address,)
    try:
        return (canonical(ipaddress.ip_address(text)),)
    except ValueError:
        return (HostName(_host_name(text)),)


def parse_domain(text: str) -> Domain:
    """A ``-d`` value: the registrable domain is what domain lists know."""
    name = _host_name(text)
    if "." not in name:
        raise ValueError(f"{text!r} is not a domain name")
    domain = registrable_domain(name)
    return Domain(domain, name if name != domain else "")


def parse_mx(text: str) -> MxOf:
    """An ``--mx`` value: a domain whose MX hosts are checked."""
    name = _host_name(text)
    if "." not in name:
        raise ValueError(f"{text!r} is not a domain name")
    return MxOf(name)
