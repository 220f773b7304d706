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
from dataclasses import dataclass
from typing import TYPE_CHECKING

from check_dnsbl.querynames import IPAddress, registrable_domain

if TYPE_CHECKING:  # parsing targets must stay cheap: DNS code loads only to resolve them
    from check_dnsbl.dnsclient import DnsClient, Outcome

#: The most addresses one run may check, whatever --max-addresses says: a
#: /20 across the default lists is already some 33,000 queries.
HARD_MAX_ADDRESSES = 4096
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
        return tuple(network) if network.num_addresses > 1 else (network.network_address,)
    try:
        return (ipaddress.ip_address(text),)
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


def _records(outcomes: list[Outcome], what: str) -> list[str]:
    """Records of successful answers; CheckError when there are none."""
    import nagiosplugin

    from check_dnsbl.dnsclient import Failure, Reply

    records = [r for o in outcomes if isinstance(o, Reply) for r in o.records]
    if records:
        return records
    failures = [o.reason for o in outcomes if isinstance(o, Failure)]
    rcodes = {o.rcode for o in outcomes if isinstance(o, Reply)} - {"NOERROR"}
    if failures:
        raise nagiosplugin.CheckError(f"cannot resolve {what}: {failures[0]}")
    if "NXDOMAIN" in rcodes:
        raise nagiosplugin.CheckError(f"cannot resolve {what}: no such name")
    if rcodes:
        raise nagiosplugin.CheckError(f"cannot resolve {what}: resolver answered {min(rcodes)}")
    raise nagiosplugin.CheckError(f"cannot resolve {what}: no record")


async def _addresses_of(client: DnsClient, name: str, what: str) -> list[IPAddress]:
    import asyncio

    from check_dnsbl.wire import AAAA, A

    outcomes = await asyncio.gather(client.query(name, A), client.query(name, AAAA))
    return [ipaddress.ip_address(r) for r in _records(list(outcomes), what)]


async def _mx_hosts(client: DnsClient, domain: str) -> list[str]:
    import nagiosplugin

    from check_dnsbl.wire import MX

    records = _records([await client.query(domain, MX)], f"MX of {domain}")
    hosts = [r.lower().removesuffix(".") for r in records]
    if hosts == [""]:
        raise nagiosplugin.CheckError(f"{domain} has a null MX (RFC 7505): it receives no mail")
    return [h for h in dict.fromkeys(hosts) if h]


async def subjects(
    client: DnsClient, targets: tuple[Target, ...], outbound: list[Subject]
) -> list[Subject]:
    """Every address and domain to check, each once, in the order given."""
    found: dict[IPAddress | str, str] = {}
    for target in targets:
        if isinstance(target, HostName):
            for address in await _addresses_of(client, target.name, target.name):
                found.setdefault(address, target.name)
        elif isinstance(target, MxOf):
            for host in await _mx_hosts(client, target.domain):
                for address in await _addresses_of(
                    client, host, f"{host} (MX of {target.domain})"
                ):
                    found.setdefault(address, f"{host}, MX of {target.domain}")
        elif isinstance(target, Outbound):
            for subject in outbound:
                found.setdefault(subject.value, subject.origin)
        elif isinstance(target, Domain):
            found.setdefault(target.name, target.given)
        else:
            found.setdefault(target, "")
    return [Subject(value, origin) for value, origin in found.items()]
