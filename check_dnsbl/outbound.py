"""Outbound-IP discovery: which public addresses does this host send from?

DNSBLs judge the address mail leaves from, which NAT, smarthosts and IPv6
egress make differ from the monitored address. Two independent methods ask
servers what source address they see; both must be asked directly, since
through a recursive resolver they report the resolver's address:

- OpenDNS: ``myip.opendns.com`` (A over IPv4, AAAA over IPv6) asked of
  resolver1.opendns.com (``dig +short myip.opendns.com @resolver1.opendns.com``);
- Google: ``o-o.myaddr.l.google.com`` TXT asked of its authoritative server
  ns1.google.com; a resolver that sends ECS adds an ``edns0-client-subnet``
  string, which is skipped.

Both are asked over IPv4 and IPv6; a family whose servers cannot be reached is
simply not discovered. Disagreement between methods is reported and every
address found is checked. The servers are configurable (--outbound-via).
"""

import asyncio
import ipaddress

from check_dnsbl import wire
from check_dnsbl.dnsclient import DnsClient
from check_dnsbl.model import Discovery, Failure, IPAddress, Resolver, Via
from check_dnsbl.resolvers import parse_resolver

#: Outbound discovery methods: the name asked, and the default servers
#: (resolver1.opendns.com and ns1.google.com, IPv4 and IPv6).
DISCOVERY = {
    "opendns": ("myip.opendns.com", ("208.67.222.222", "2620:119:35::35")),
    "google": ("o-o.myaddr.l.google.com", ("216.239.32.10", "2001:4860:4802:32::a")),
}


def default_vias() -> tuple[Via, ...]:
    """Both methods, each asked of its IPv4 and IPv6 server."""
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


async def _ask(
    via: Via, query_timeout: float, retries: int, deadline: float
) -> tuple[Via, IPAddress | Failure]:
    """The address ``via`` reports, or why it reported none."""
    name = DISCOVERY[via.method][0]
    family = ipaddress.ip_address(via.server.host).version
    rdtype = wire.TXT if via.method == "google" else wire.AAAA if family == 6 else wire.A
    client = DnsClient(
        (via.server,), query_timeout=query_timeout, retries=retries, workers=1, deadline=deadline
    )
    async with client:
        outcome = await client.query(name, rdtype)
    if isinstance(outcome, Failure):
        return via, outcome
    for record in outcome.records:  # Google adds "edns0-client-subnet ..." when ECS is used
        try:
            return via, ipaddress.ip_address(record.strip())
        except ValueError:
            continue
    return via, Failure(f"no address in the answer ({outcome.rcode})")


async def discover(
    vias: tuple[Via, ...], query_timeout: float, retries: int, deadline: float
) -> Discovery:
    """Every address the methods report, with the methods that saw it, and
    every ask that failed (an IPv4-only host always fails over IPv6)."""
    answers = await asyncio.gather(*(_ask(v, query_timeout, retries, deadline) for v in vias))
    found: dict[IPAddress, list[str]] = {}
    failed = []
    for via, answer in answers:
        if isinstance(answer, Failure):
            failed.append((f"{via.method} ({via.server})", answer.reason))
        else:
            found.setdefault(answer, []).append(via.method)
    return Discovery(
        tuple((address, tuple(methods)) for address, methods in found.items()), tuple(failed)
    )
