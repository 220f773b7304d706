"""Targets: what to check, as given on the command line, and how each becomes
the addresses and domains the lists are asked about.

``-H`` takes an address, a network (every address, up to a limit), a host
name (every A and AAAA) or ``outbound`` (this host's public addresses, see
``outbound``); ``--mx`` every address of every MX host of a domain; ``-d`` a
domain for the domain lists.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from check_dnsbl.querynames import IPAddress, canonical, registrable_domain

if TYPE_CHECKING:  # parsing targets must stay cheap: DNS code loads only to resolve them
    from check_dnsbl.dnsclient import DnsClient, Outcome

#: The most addresses one run may check, whatever --max-addresses says: a
#: /20 across the default lists is already some 33,000 queries.
HARD_MAX_ADDRESSES = 4096
#: IPv4-mapped IPv6 (RFC 4291 §2.5.5.2): the same addresses as IPv4.
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$"
)


@dataclass(frozen=True)
class HostName:
    name: str


@dataclass(frozen=True)
class MxOf:
    domain: str


@dataclass(frozen=True)
class Outbound:
    """This host's public addresses, found over DNS."""


@dataclass(frozen=True)
class Domain:
    name: str  # registrable domain: what domain lists are asked about
    given: str  # as given, when it differs (a host name)


Target = IPAddress | HostName | MxOf | Outbound | Domain


@dataclass(frozen=True)
class Unchecked:
    """Something the command line names that yielded nothing to check, and why."""

    what: str  # "b.example.com (MX of example.com)", "outbound"
    reason: str  # one line: "cannot resolve b.example.com (MX of example.com): no such name"


@dataclass(frozen=True)
class Subject:
    """One thing the lists are asked about: an address or a domain."""

    value: IPAddress | str
    origin: str = ""  # where it came from: a host name, "MX of ...", "outbound"

    @property
    def kind(self) -> str:
        return "domain" if isinstance(self.value, str) else "ip"


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


class _Unresolved(Exception):
    """A name that gave no usable records; the message is the reason."""


def _records(outcomes: list[Outcome], what: str) -> list[str]:
    """Records of successful answers; _Unresolved when there are none."""
    from check_dnsbl.dnsclient import Failure, Reply

    records = [r for o in outcomes if isinstance(o, Reply) for r in o.records]
    if records:
        return records
    failures = [o.reason for o in outcomes if isinstance(o, Failure)]
    rcodes = {o.rcode for o in outcomes if isinstance(o, Reply)} - {"NOERROR"}
    if failures:
        why = failures[0]
    elif "NXDOMAIN" in rcodes:
        why = "no such name"
    elif rcodes:
        why = f"resolver answered {min(rcodes)}"
    else:
        why = "no record"
    raise _Unresolved(f"cannot resolve {what}: {why}")


async def _addresses_of(client: DnsClient, name: str, what: str) -> list[IPAddress]:
    import asyncio

    from check_dnsbl.wire import AAAA, A

    outcomes = await asyncio.gather(client.query(name, A), client.query(name, AAAA))
    return [canonical(ipaddress.ip_address(r)) for r in _records(list(outcomes), what)]


async def _mx_hosts(client: DnsClient, domain: str) -> list[str]:
    from check_dnsbl.wire import MX

    records = _records([await client.query(domain, MX)], f"MX of {domain}")
    hosts = [r.lower().removesuffix(".") for r in records]
    if hosts == [""]:
        raise _Unresolved(f"{domain} has a null MX (RFC 7505): it receives no mail")
    return [h for h in dict.fromkeys(hosts) if h]


async def subjects(
    client: DnsClient,
    targets: tuple[Target, ...],
    outbound: list[Subject] | Unchecked,
    limit: int,
) -> tuple[list[Subject], list[Unchecked]]:
    """Every address and domain to check, each once, in the order given, at
    most ``limit`` addresses in all; and what yielded nothing, with the reason.

    A name that does not resolve costs only its own addresses: the other
    targets are still checked."""
    found: dict[IPAddress | str, str] = {}
    unchecked: list[Unchecked] = []
    over: dict[str, int] = {}  # origin -> addresses past the limit
    addresses = 0

    def add(value: IPAddress | str, origin: str) -> None:
        nonlocal addresses
        if value in found:
            return
        if not isinstance(value, str):
            if addresses >= limit:
                over[origin or str(value)] = over.get(origin or str(value), 0) + 1
                return
            addresses += 1
        found[value] = origin

    for target in targets:
        try:
            if isinstance(target, HostName):
                for address in await _addresses_of(client, target.name, target.name):
                    add(address, target.name)
            elif isinstance(target, MxOf):
                await _add_mx(client, target.domain, add, unchecked)
            elif isinstance(target, Outbound):
                if isinstance(outbound, Unchecked):
                    unchecked.append(outbound)
                for subject in outbound if isinstance(outbound, list) else ():
                    add(subject.value, subject.origin)
            elif isinstance(target, Domain):
                add(target.name, target.given)
            else:
                add(target, "")
        except _Unresolved as exc:
            unchecked.append(Unchecked(_what(target), str(exc)))
    for origin, count in over.items():
        unchecked.append(
            Unchecked(
                origin,
                f"{count} {'address' if count == 1 else 'addresses'} of {origin} not checked: "
                f"--max-addresses {limit} reached",
            )
        )
    return [Subject(value, origin) for value, origin in found.items()], unchecked


async def _add_mx(
    client: DnsClient,
    domain: str,
    add: Callable[[IPAddress, str], None],
    unchecked: list[Unchecked],
) -> None:
    """Every address of every MX host of ``domain``; a host that does not
    resolve is unchecked, the others are still added."""
    for host in await _mx_hosts(client, domain):
        try:
            for address in await _addresses_of(client, host, f"{host} (MX of {domain})"):
                add(address, f"{host}, MX of {domain}")
        except _Unresolved as exc:
            unchecked.append(Unchecked(f"{host} (MX of {domain})", str(exc)))


def _what(target: Target) -> str:
    if isinstance(target, MxOf):
        return f"MX of {target.domain}"
    if isinstance(target, HostName):
        return target.name
    return "outbound" if isinstance(target, Outbound) else str(target)
