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


async def _mx_hosts(client: DnsClient, domain: str, shown: str) -> list[str] | None:
    """The MX hosts of ``domain``, each once; None when it has no MX record
    (the name exists, without MX): its own addresses are then its implicit
    MX (RFC 5321 §5.1). A null MX (RFC 7505) alone: it receives no mail."""
    outcome = await client.query(domain, MX)
    if isinstance(outcome, Reply) and outcome.rcode == "NOERROR" and not outcome.records:
        return None
    records = _records([outcome], f"MX of {shown}")
    hosts = [r.lower().removesuffix(".") for r in records]
    if set(hosts) == {""}:
        raise _Unresolved(f"{shown} has a null MX (RFC 7505): it receives no mail")
    return list(dict.fromkeys(hosts))


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
                shown = target.given or target.name
                for address in await _addresses_of(client, target.name, shown):
                    add(address, shown)
            elif isinstance(target, MxOf):
                await _add_mx(client, target, add, unchecked)
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
    target: MxOf,
    add: Callable[[IPAddress, str], None],
    unchecked: list[Unchecked],
) -> None:
    """Every address of every MX host of the target's domain; a host that
    does not resolve is unchecked, the others are still added. An MX that is
    no host (a null MX beside others, an IP address) is named, not asked."""
    domain, shown = target.domain, target.given or target.domain
    hosts = await _mx_hosts(client, domain, shown)
    if hosts is None:
        implicit = f"the implicit MX of {shown} (it has no MX record)"
        for address in await _addresses_of(client, domain, implicit):
            add(address, f"{shown}, implicit MX: no MX record")
        return
    for host in hosts:
        what = f"{host or '.'} (MX of {shown})"
        try:
            if not host:
                raise _Unresolved(
                    f"{shown} has a null MX (RFC 7505) beside other MX records: a null MX "
                    "must stand alone"
                )
            if _literal(host):
                raise _Unresolved(
                    f"the MX {host} of {shown} is an IP address, not a host name (RFC 5321 "
                    f"§5.1): mail servers do not deliver to it; check it with -H {host}"
                )
            for address in await _addresses_of(client, host, what):
                add(address, f"{host}, MX of {shown}")
        except _Unresolved as exc:
            unchecked.append(Unchecked(what, str(exc)))


def _literal(host: str) -> bool:
    """An MX that names an address (``10 192.0.2.25.``, ``[192.0.2.25]``)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _what(target: Target) -> str:
    if isinstance(target, MxOf):
        return f"MX of {target.given or target.domain}"
    if isinstance(target, HostName):
        return target.given or target.name
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
