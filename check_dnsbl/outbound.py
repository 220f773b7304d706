"""Outbound-IP discovery: which public addresses does this host send from?

DNSBLs judge the address mail leaves from, which NAT, smarthosts and IPv6
egress make differ from the monitored address. Two independent methods ask
authoritative servers what source address they see (dnsbl-facts.md §5):

- OpenDNS: ``myip.opendns.com`` (A over IPv4, AAAA over IPv6) asked of
  resolver1.opendns.com;
- Google: ``o-o.myaddr.l.google.com`` TXT asked of ns1.google.com.

Both are asked over IPv4 and IPv6; a family whose servers cannot be reached is
simply not discovered. Disagreement between methods is reported and every
address found is checked. The servers are configurable (--outbound-via).
"""

import asyncio
import ipaddress

from check_dnsbl import wire
from check_dnsbl.dnsclient import DnsClient, Failure
from check_dnsbl.resolvers import DISCOVERY, Via
from check_dnsbl.targets import Subject, Unchecked


async def _ask(
    via: Via, query_timeout: float, retries: int, deadline: float
) -> tuple[Via, str | Failure]:
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
            return via, str(ipaddress.ip_address(record.strip()))
        except ValueError:
            continue
    return via, Failure(f"no address in the answer ({outcome.rcode})")


async def discover(
    vias: tuple[Via, ...], query_timeout: float, retries: int, deadline: float
) -> tuple[list[Subject] | Unchecked, list[str], list[str]]:
    """Discovered addresses (as Subjects; Unchecked when none was found),
    notes for the long output, and failed asks (shown at -v: an IPv4-only
    host always fails over IPv6)."""
    answers = await asyncio.gather(*(_ask(v, query_timeout, retries, deadline) for v in vias))
    found: dict[str, list[str]] = {}
    failed = []
    for via, answer in answers:
        if isinstance(answer, Failure):
            failed.append(f"{via.method} ({via.server}): {answer.reason}")
        else:
            found.setdefault(answer, []).append(via.method)
    if not found:
        return Unchecked("outbound", "outbound discovery failed: " + "; ".join(failed)), [], []
    notes: list[str] = []
    subjects = []
    for family in (4, 6):
        seen = {
            a: methods for a, methods in found.items() if ipaddress.ip_address(a).version == family
        }
        if len(seen) > 1:
            notes.append(
                f"outbound IPv{family} discovery disagrees: "
                + ", ".join(f"{'+'.join(m)} says {a}" for a, m in seen.items())
                + "; checking each"
            )
        for address, methods in seen.items():
            origin = "outbound" if len(seen) == 1 else f"outbound per {'+'.join(methods)}"
            subjects.append(Subject(ipaddress.ip_address(address), origin))
    return subjects, notes, [f"outbound discovery failed: {f}" for f in failed]
