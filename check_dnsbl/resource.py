"""Acquisition: resolve the targets and ask every list, under one deadline.

The Resource only gathers facts: one AddressReport (verdicts, built by the
pure functions in ``verdict``) per address, plus counts. States are decided
by the Contexts.
"""

import asyncio
import ipaddress
import time
from collections.abc import Iterator
from typing import Literal

import dns.rdatatype
import nagiosplugin

from check_dnsbl.catalog import DnsblList
from check_dnsbl.dnsclient import DnsClient, Failure, Reply
from check_dnsbl.querynames import TEST_ENTRIES, IPAddress, ip_query_name
from check_dnsbl.settings import Settings
from check_dnsbl.verdict import AddressReport, Status, Verdict, classify, self_tested, with_txt

A, AAAA, TXT = dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.TXT
SelfTest = asyncio.Task[tuple[Verdict, Verdict]]


class Dnsbl(nagiosplugin.Resource):
    """Every configured list's verdict on every address of every target."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reports: tuple[AddressReport, ...] = ()
        self.queries = 0
        self.junk = 0

    @property
    def name(self) -> str:
        return "DNSBL"

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        self.reports = asyncio.run(self._gather())
        reports, lists = self.reports, self.settings.lists
        for report in reports:
            yield nagiosplugin.Metric(report.address, report, context="address")
        unusable = {v.dnsbl.zone for r in reports for v in r.having(Status.UNUSABLE)}
        yield nagiosplugin.Metric("errors", len(unusable), min=0, max=len(lists), context="errors")
        yield nagiosplugin.Metric(
            "listed",
            sum(len(r.counted) for r in reports),
            min=0,
            max=sum(r.asked for r in reports),
            context="listed",
        )
        yield nagiosplugin.Metric("lists", len(lists), min=0, context="perf")
        if len(reports) > 1:
            yield nagiosplugin.Metric("addresses", len(reports), min=0, context="perf")
            yield nagiosplugin.Metric(
                "addresses_listed",
                sum(1 for r in reports if r.having(Status.LISTED)),
                min=0,
                max=len(reports),
                context="perf",
            )
        elapsed = round(time.monotonic() - self.settings.started, 3)
        yield nagiosplugin.Metric("time", elapsed, "s", min=0, context="perf")

    async def _gather(self) -> tuple[AddressReport, ...]:
        s = self.settings
        async with DnsClient(
            s.resolvers, s.query_timeout, s.retries, s.workers, s.deadline
        ) as client:
            addresses = await self._addresses(client)
            families = {a.version for a, _ in addresses}
            tests = {
                (lst.zone, family): asyncio.ensure_future(self._self_test(client, lst, family))
                for lst in s.lists
                if not lst.dead
                for family in families
            }
            pairs = [
                [self._check(client, address, lst, tests) for lst in s.lists]
                for address, _ in addresses
            ]
            results = await asyncio.gather(*(asyncio.gather(*row) for row in pairs))
            await asyncio.gather(*tests.values())
            self.queries, self.junk = client.sent, client.junk
        return tuple(
            AddressReport(str(address), origin, tuple(verdicts))
            for (address, origin), verdicts in zip(addresses, results, strict=True)
        )

    async def _addresses(self, client: DnsClient) -> list[tuple[IPAddress, str]]:
        """Targets as (address, host name it came from); every A and AAAA of a name."""
        found: dict[IPAddress, str] = {}
        for target in self.settings.targets:
            if not isinstance(target, str):
                found.setdefault(target, "")
                continue
            outcomes = await asyncio.gather(client.query(target, A), client.query(target, AAAA))
            failures = [o.reason for o in outcomes if isinstance(o, Failure)]
            rcodes = {o.rcode for o in outcomes if isinstance(o, Reply)} - {"NOERROR"}
            records = [r for o in outcomes if isinstance(o, Reply) for r in o.records]
            for record in records:
                found.setdefault(ipaddress.ip_address(record), target)
            if records:
                continue
            if failures:
                raise nagiosplugin.CheckError(f"cannot resolve {target}: {failures[0]}")
            if rcodes:
                why = (
                    "no such host" if "NXDOMAIN" in rcodes else f"resolver answered {min(rcodes)}"
                )
                raise nagiosplugin.CheckError(f"cannot resolve {target}: {why}")
            raise nagiosplugin.CheckError(f"cannot resolve {target}: no A or AAAA record")
        return list(found.items())

    async def _self_test(
        self, client: DnsClient, lst: DnsblList, family: int
    ) -> tuple[Verdict, Verdict]:
        listed, unlisted = TEST_ENTRIES[family]
        positive, negative = await asyncio.gather(
            client.query(ip_query_name(listed, lst.zone), A),
            client.query(ip_query_name(unlisted, lst.zone), A),
        )
        return classify(lst, positive), classify(lst, negative)

    async def _check(
        self,
        client: DnsClient,
        address: IPAddress,
        lst: DnsblList,
        tests: dict[tuple[str, Literal[4, 6]], SelfTest],
    ) -> Verdict:
        if lst.dead:
            return Verdict(lst, Status.UNUSABLE, reason=f"dead list: {lst.dead}; remove it")
        if address.version == 6 and lst.ipv6 is False:
            return Verdict(lst, Status.NOT_APPLICABLE, reason="list has no IPv6 data")
        name = ip_query_name(address, lst.zone)
        verdict = classify(lst, await client.query(name, A))
        if verdict.status is Status.LISTED:
            verdict = with_txt(verdict, await client.query(name, TXT))
        positive, negative = await tests[(lst.zone, address.version)]
        return self_tested(verdict, positive, negative, address.version)
