"""Subjects: the addresses and domains the lists are asked about, found by
resolving what the command line names (host names, MX hosts, the outbound
discovery) through the run's own resolver, under one address cap.

A name that does not resolve costs only its own addresses: it is Unchecked,
with the reason, and every other target is still checked.
"""

import asyncio
import ipaddress
from collections.abc import Callable

from check_dnsbl.dnsclient import DnsClient
from check_dnsbl.model import (
    Discovery,
    Domain,
    Failure,
    HostName,
    IPAddress,
    MxOf,
    Outbound,
    Outcome,
    Reply,
    Subject,
    Target,
    Unchecked,
)
from check_dnsbl.querynames import canonical
from check_dnsbl.wire import AAAA, MX, A


class _Unresolved(Exception):
    """A name that gave no usable records; the message is the reason."""


def _records(outcomes: list[Outcome], what: str) -> list[str]:
    """Records of successful answers; _Unresolved when there are none."""
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
    outcomes = await asyncio.gather(client.query(name, A), client.query(name, AAAA))
    return [canonical(ipaddress.ip_address(r)) for r in _records(list(outcomes), what)]


async def _mx_hosts(client: DnsClient, domain: str) -> list[str]:
    records = _records([await client.query(domain, MX)], f"MX of {domain}")
    hosts = [r.lower().removesuffix(".") for r in records]
    if hosts == [""]:
        raise _Unresolved(f"{domain} has a null MX (RFC 7505): it receives no mail")
    return [h for h in dict.fromkeys(hosts) if h]


async def subjects(
    client: DnsClient,
    targets: tuple[Target, ...],
    discovery: Discovery | None,
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
                for address, origin in _discovered(discovery):
                    add(address, origin)
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


def _discovered(discovery: Discovery | None) -> list[tuple[IPAddress, str]]:
    """The discovered addresses, each with its origin: "outbound", or per
    method where the methods disagree within a family (every one is checked)."""
    found = discovery.found if discovery else ()
    if not found:
        failed = "; ".join(f"{who}: {why}" for who, why in discovery.failed) if discovery else ""
        raise _Unresolved(f"outbound discovery failed: {failed}")
    subjects = []
    for family in (4, 6):
        seen = [(address, methods) for address, methods in found if address.version == family]
        for address, methods in seen:
            origin = "outbound" if len(seen) == 1 else f"outbound per {'+'.join(methods)}"
            subjects.append((canonical(address), origin))
    return subjects
