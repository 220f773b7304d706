"""Acquisition: find the targets' addresses and domains and ask every list,
under one deadline.

The Resource only gathers facts: one TargetReport (verdicts, built by the
pure functions in ``verdict``) per address or domain, plus counts. States
are decided by the Contexts.
"""

import asyncio
import ipaddress
import time
from collections.abc import Iterator

import nagiosplugin

from check_dnsbl.catalog import KEYS, DnsblList
from check_dnsbl.dnsclient import NOT_ASKED, DnsClient
from check_dnsbl.history import Changes, key, record
from check_dnsbl.keys import env_name
from check_dnsbl.querynames import TEST_ENTRIES, domain_query_name, ip_query_name, show
from check_dnsbl.settings import Settings
from check_dnsbl.targets import Domain, Outbound, Subject, Unchecked, subjects
from check_dnsbl.verdict import Status, TargetReport, Verdict, classify, self_tested, with_txt
from check_dnsbl.wire import TXT, A

#: Self-tests run once per list and family ("4", "6" or "domain").
SelfTest = asyncio.Task[tuple[Verdict, Verdict]]


def test_entries(lst: DnsblList, family: str) -> tuple[str, str]:
    """The list's (must be listed, must not be listed) test entries."""
    if family == "domain":
        return lst.test_listed, lst.test_unlisted
    listed, unlisted = TEST_ENTRIES[int(family)]
    return show(listed), show(unlisted)


def query_name(subject: Subject | str, lst: DnsblList) -> str:
    """The name to ask ``lst`` about a subject (or a test entry, given as text)."""
    value = subject.value if isinstance(subject, Subject) else subject
    if lst.kind == "domain":
        return domain_query_name(str(value), lst.query_zone)
    address = ipaddress.ip_address(value) if isinstance(value, str) else value
    return ip_query_name(address, lst.query_zone)


def family_of(subject: Subject) -> str:
    return "domain" if isinstance(subject.value, str) else str(subject.value.version)


class Dnsbl(nagiosplugin.Resource):
    """Every configured list's verdict on every address and domain."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reports: tuple[TargetReport, ...] = ()
        #: What the command line names that yielded nothing to check.
        self.unchecked: list[Unchecked] = []
        self.notes: list[str] = []
        self.details: list[str] = []
        self.queries = 0
        self.junk = 0
        self.changes: Changes | None = None
        #: zone -> "127.0.0.2 listed, 127.0.0.1 not listed" per family, for -vvv
        self.self_tests: dict[str, list[str]] = {}

    @property
    def name(self) -> str:
        return "DNSBL"

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        self.reports = asyncio.run(self._gather())
        reports = self.reports
        if self.settings.state_file is not None:
            self.changes = record(self.settings.state_file, reports, self.settings.lock_deadline)
            counted = {key(r.target, v.dnsbl.zone) for r in reports for v in r.counted}
            yield nagiosplugin.Metric("new", len(self.changes.new & counted), min=0, context="new")
            yield nagiosplugin.Metric(
                "delisted", len(self.changes.delisted), min=0, context="perf"
            )
        lists = {v.dnsbl.zone for r in reports for v in r.verdicts}
        for report in reports:
            yield nagiosplugin.Metric(report.target, report, context="target")
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
        if any(not isinstance(t, ipaddress.IPv4Address | ipaddress.IPv6Address | Domain)
               for t in self.settings.targets):  # fmt: skip
            # names can fail to resolve: a stable series for every run that has them
            yield nagiosplugin.Metric("unchecked", len(self.unchecked), min=0, context="unchecked")
        if len(reports) > 1:
            for kind, noun in (("ip", "addresses"), ("domain", "domains")):
                mine = [r for r in reports if r.kind == kind]
                if mine:
                    listed = sum(1 for r in mine if r.having(Status.LISTED))
                    yield nagiosplugin.Metric(noun, len(mine), min=0, context="perf")
                    yield nagiosplugin.Metric(
                        f"{noun}_listed", listed, min=0, max=len(mine), context="perf"
                    )
        elapsed = round(time.monotonic() - self.settings.started, 3)
        yield nagiosplugin.Metric("time", elapsed, "s", min=0, context="perf")

    async def _gather(self) -> tuple[TargetReport, ...]:
        s = self.settings
        outbound: list[Subject] | Unchecked = []
        if any(isinstance(t, Outbound) for t in s.targets):
            from check_dnsbl.outbound import discover

            outbound, self.notes, self.details = await discover(
                s.outbound_via, s.query_timeout, s.retries, s.deadline
            )
        client = DnsClient(
            s.resolvers,
            query_timeout=s.query_timeout,
            retries=s.retries,
            workers=s.workers,
            deadline=s.deadline,
            max_qps=s.max_qps,
        )
        async with client:
            found, self.unchecked = await subjects(client, s.targets, outbound, s.max_addresses)
            tests = {
                (lst.zone, family): self._self_test(client, lst, family)
                for lst in s.lists
                for family in {family_of(subject) for subject in found}
                if self._unasked(lst, family) is None
            }
            rows = [self._lists_for(subject) for subject in found]
            results: list[list[Verdict | None]] = [[None] * len(row) for row in rows]
            pairs = iter([(i, j) for i, row in enumerate(rows) for j in range(len(row))])

            async def worker() -> None:
                # a pool, not a task per pair: a /24 on 46 lists is 11,776 pairs;
                # at the deadline every worker stops taking pairs at once
                for i, j in pairs:
                    if time.monotonic() >= s.deadline:
                        return
                    results[i][j] = await self._check(client, found[i], rows[i][j], tests)

            await asyncio.gather(*(worker() for _ in range(min(s.workers, sum(map(len, rows))))))
            self._not_asked(found, rows, results)
            await asyncio.gather(*tests.values())
            for (zone, family), task in tests.items():
                entries = test_entries(task.result()[0].dnsbl, family)
                self.self_tests.setdefault(zone, []).append(
                    ", ".join(
                        f"{e} {v.status.value}"
                        for e, v in zip(entries, task.result(), strict=True)
                    )
                )
            self.queries, self.junk = client.sent, client.junk
        return tuple(
            TargetReport(
                subject.value if isinstance(subject.value, str) else show(subject.value),
                subject.origin,
                subject.kind,
                tuple(v for v in verdicts if v),
            )
            for subject, verdicts in zip(found, results, strict=True)
        )

    def _not_asked(
        self,
        found: list[Subject],
        rows: list[list[DnsblList]],
        results: list[list[Verdict | None]],
    ) -> None:
        """Fill in the pairs the deadline left unasked (one shared verdict per
        list and family, so this stays cheap for 400,000 pairs), and count them
        with those --max-qps could not send in time: every asked pair keeps its
        verdict."""
        s = self.settings
        reason = f"{NOT_ASKED}: -t {s.timeout:g} ran out first"
        fills: dict[tuple[str, str], Verdict] = {}
        late = 0
        for subject, row, verdicts in zip(found, rows, results, strict=True):
            family = family_of(subject)
            for j, lst in enumerate(row):
                verdict = verdicts[j]
                if verdict is None:
                    if (lst.zone, family) not in fills:
                        fills[lst.zone, family] = self._unasked(lst, family) or Verdict(
                            lst, Status.UNUSABLE, reason=reason
                        )
                    verdict = verdicts[j] = fills[lst.zone, family]
                late += verdict.reason.startswith(NOT_ASKED)
        if late:
            why = f"; --max-qps {s.max_qps:g} paces the queries" if s.max_qps else ""
            self.notes.append(
                f"{late} of {sum(map(len, rows))} (target, list) pairs not asked before the "
                f"deadline (-t {s.timeout:g}){why}"
            )

    def _lists_for(self, subject: Subject) -> list[DnsblList]:
        """IP lists are never asked about a domain, nor domain lists about an address."""
        return [lst for lst in self.settings.lists if lst.kind == subject.kind]

    @staticmethod
    def _unasked(lst: DnsblList, family: str) -> Verdict | None:
        """The verdict of a list that is not asked at all about this family:
        dead, missing its key, or without IPv6 data. None: ask it."""
        if (family == "domain") != (lst.kind == "domain"):
            return Verdict(lst, Status.NOT_APPLICABLE, reason=f"a {lst.kind} list")
        if lst.dead:
            return Verdict(lst, Status.UNUSABLE, reason=f"dead list: {lst.dead}; remove it")
        if lst.key_required and not lst.keyed:
            why = f"needs a key: {KEYS[lst.key]} (--{lst.key}-key-file or {env_name(lst.key)})"
            return Verdict(lst, Status.UNUSABLE, reason=why)
        if family == "6" and lst.ipv6 is False:
            return Verdict(lst, Status.NOT_APPLICABLE, reason="list has no IPv6 data")
        return None

    @staticmethod
    def _self_test(client: DnsClient, lst: DnsblList, family: str) -> SelfTest:
        """The list's verdicts on its test entries. Both queries are sent now,
        before any real query, so that --max-qps never starves them."""
        listed, unlisted = test_entries(lst, family)
        asked = asyncio.gather(
            client.query(query_name(listed, lst), A), client.query(query_name(unlisted, lst), A)
        )

        async def judged() -> tuple[Verdict, Verdict]:
            positive, negative = await asked
            return classify(lst, positive), classify(lst, negative)

        return asyncio.ensure_future(judged())

    async def _check(
        self,
        client: DnsClient,
        subject: Subject,
        lst: DnsblList,
        tests: dict[tuple[str, str], SelfTest],
    ) -> Verdict:
        family = family_of(subject)
        unasked = self._unasked(lst, family)
        if unasked is not None:
            return unasked
        name = query_name(subject, lst)
        verdict = classify(lst, await client.ask(name, A))
        if verdict.status is Status.LISTED:
            verdict = with_txt(verdict, await client.ask(name, TXT))
        positive, negative = await tests[(lst.zone, family)]
        return self_tested(verdict, positive, negative, test_entries(lst, family), family == "6")
