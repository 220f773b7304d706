"""Acquisition: resolve the targets and ask every list, under one deadline.

The Resource only gathers facts and hands them on as Metrics: one
TargetReport per address or domain (its verdicts, built by the pure
functions in ``verdict``), the counts the Contexts judge, and the Findings
the Summary words. It decides no state and words nothing.
"""

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import partial

import nagiosplugin

from check_dnsbl.catalog import DnsblList
from check_dnsbl.direct import marked, read_direct, server_name, wants_direct
from check_dnsbl.dnsclient import DnsClient
from check_dnsbl.history import key, record
from check_dnsbl.keys import KEYS, env_name
from check_dnsbl.labels import list_labels
from check_dnsbl.model import (
    NOT_ASKED,
    Discovery,
    Failure,
    Findings,
    HostName,
    MxOf,
    Outbound,
    Outcome,
    Reply,
    Resolver,
    SelfTest,
    Status,
    Subject,
    TargetReport,
    Verdict,
)
from check_dnsbl.outbound import discover
from check_dnsbl.querynames import query_name, show, test_entries
from check_dnsbl.settings import Settings
from check_dnsbl.subjects import subjects
from check_dnsbl.verdict import classify, self_tested, with_txt
from check_dnsbl.wire import AAAA, NS, TXT, A

#: A list's self-test for one family, shared by every pair that needs it.
Test = asyncio.Task[SelfTest]
#: What wording a (target, list) pair's verdict costs once the queries end
#: (about 1 µs on this project's 2-core machine, kept twice over): a /20 on
#: 100 lists is 409,600 pairs, so its queries end 0.8 s before the deadline.
OUTPUT_SECONDS_PER_PAIR = 2e-6
#: --direct tries at most this many of a zone's servers, in turn, until one
#: answers the list's self-test: a lame or refusing mirror costs only itself.
DIRECT_SERVERS = 3
#: A zone's server chosen for --direct: as the output names it, its client,
#: and the list's self-test as it answered it.
Server = tuple[str, DnsClient, SelfTest]


def metrics(
    settings: Settings, reports: tuple[TargetReport, ...], findings: Findings, elapsed: float
) -> Iterator[nagiosplugin.Metric]:
    """What a run found, as Metrics: one per target (its TargetReport), the
    counts the Contexts judge and graphs draw, and the Findings for the
    Summary. Pure: the Contexts and the Summary are tested on these alone.

    ``listed`` is the count the thresholds judge: the worst target's
    listings, out of the most lists any target was asked of. With several
    targets, ``listed_total`` adds them all up, with no thresholds, out of
    every (target, list) pair asked.

    Every series has a min (0) and a max where one exists; counts have no
    unit, ``time`` is in seconds (``s``), per the Monitoring Plugins
    guidelines, so that graphing tools scale the axes right."""
    s = settings
    if s.state_file is not None:
        changes = findings.changes
        counted = {key(r.target, v.dnsbl.zone) for r in reports for v in r.counted}
        yield nagiosplugin.Metric("new", len(changes.new & counted), min=0, context="new")
        yield nagiosplugin.Metric("delisted", len(changes.delisted), min=0, context="perf")
    for report in reports:
        yield nagiosplugin.Metric(report.target, report, context="target")
    lists = {v.dnsbl.zone for r in reports for v in r.verdicts}
    usable = sum(len(r.having(Status.LISTED, Status.RATED, Status.CLEAN)) for r in reports)
    yield nagiosplugin.Metric("usable", usable, min=0, context="usable")
    unusable = {v.dnsbl.zone for r in reports for v in r.having(Status.UNUSABLE)}
    yield nagiosplugin.Metric("errors", len(unusable), min=0, max=len(lists), context="errors")
    yield nagiosplugin.Metric(
        "listed",
        max((len(r.counted) for r in reports), default=0),
        min=0,
        max=max((r.asked for r in reports), default=0),
        context="listed",
    )
    yield nagiosplugin.Metric("lists", len(lists), min=0, context="perf")
    if any(isinstance(t, HostName | MxOf | Outbound) for t in s.targets):
        # names can fail to resolve: a stable series for every run that has them
        unchecked = len(findings.unchecked)
        yield nagiosplugin.Metric("unchecked", unchecked, min=0, context="unchecked")
    if len(reports) > 1:
        for kind, noun in (("ip", "addresses"), ("domain", "domains")):
            mine = [r for r in reports if r.kind == kind]
            if mine:
                listed = sum(1 for r in mine if r.having(Status.LISTED))
                yield nagiosplugin.Metric(noun, len(mine), min=0, context="perf")
                yield nagiosplugin.Metric(
                    f"{noun}_listed", listed, min=0, max=len(mine), context="perf"
                )
        total = sum(len(r.counted) for r in reports)
        asked = sum(r.asked for r in reports)
        yield nagiosplugin.Metric("listed_total", total, min=0, max=asked, context="perf")
    if s.perfdata_per_list:
        yield from per_list(reports)
    yield nagiosplugin.Metric("time", round(elapsed, 3), "s", min=0, context="perf")
    yield nagiosplugin.Metric("findings", findings, context="findings")


def per_list(reports: tuple[TargetReport, ...]) -> Iterator[nagiosplugin.Metric]:
    """--perfdata-per-list: per list, how many targets it lists (of those it
    answered usably about: the max); no series for a list that answered
    nothing usable in this run, so a graph shows a gap, never a false 0."""
    listed: dict[str, int] = {}
    usable: dict[str, int] = {}
    for r in reports:
        for v in r.verdicts:
            zone = v.dnsbl.zone
            listed.setdefault(zone, 0)
            if v.status in (Status.LISTED, Status.RATED, Status.CLEAN):
                usable[zone] = usable.get(zone, 0) + 1
                listed[zone] += v.status is Status.LISTED
    for zone, label in list_labels(listed).items():
        if usable.get(zone):
            yield nagiosplugin.Metric(label, listed[zone], min=0, max=usable[zone], context="perf")


class Dnsbl(nagiosplugin.Resource):
    """Every configured list's verdict on every address and domain."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def name(self) -> str:
        return "DNSBL"

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        s = self.settings
        reports, findings = asyncio.run(self._gather())
        if s.state_file is not None:
            findings = replace(findings, changes=record(s.state_file, reports, s.lock_deadline))
        yield from metrics(s, reports, findings, time.monotonic() - s.started)

    async def _gather(self) -> tuple[tuple[TargetReport, ...], Findings]:
        s = self.settings
        discovery: Discovery | None = None
        if any(isinstance(t, Outbound) for t in s.targets):
            discovery = await discover(s.outbound_via, s.query_timeout, s.retries, s.deadline)
        client = DnsClient(
            s.resolvers,
            query_timeout=s.query_timeout,
            retries=s.retries,
            workers=s.workers,
            deadline=s.deadline,
            max_qps=s.max_qps,
        )
        async with client:
            found, unchecked = await subjects(client, s.targets, discovery, s.max_addresses)
            by_kind = {k: [lst for lst in s.lists if lst.kind == k] for k in ("ip", "domain")}
            families = {(subject.kind, subject.family) for subject in found}
            tests = {
                (lst.zone, family): self._self_test(client, lst, family)
                for kind, family in sorted(families)
                for lst in by_kind[kind]
                if self._unasked(lst, family) is None
            }
            rows = [by_kind[subject.kind] for subject in found]  # shared, never changed
            results: list[list[Verdict | None]] = [[None] * len(row) for row in rows]
            pairs = iter([(i, j) for i, row in enumerate(rows) for j in range(len(row))])
            # the output of a big run takes time to word: keep some for every pair
            stop = s.deadline - OUTPUT_SECONDS_PER_PAIR * sum(map(len, rows))
            client.deadline = stop

            async def worker() -> None:
                # a pool, not a task per pair: a /24 on 46 lists is 11,776 pairs;
                # at the deadline every worker stops taking pairs at once
                for i, j in pairs:
                    if time.monotonic() >= stop:
                        return
                    results[i][j] = await self._check(client, found[i], rows[i][j], tests)

            await asyncio.gather(*(worker() for _ in range(min(s.workers, sum(map(len, rows))))))
            # asked but never sent (--max-qps), and never asked at all (the deadline)
            paced = sum(1 for row in results for v in row if v and v.reason.startswith(NOT_ASKED))
            late = sum(row.count(None) for row in results)
            verdicts = self._not_asked(found, rows, results)
            self_tests = await asyncio.gather(*tests.values())
            direct_sent = 0
            if s.direct:
                direct_sent, direct_tests = await self._direct(client, found, verdicts)
                self_tests += direct_tests
        reports = tuple(
            TargetReport(
                subject.value if isinstance(subject.value, str) else show(subject.value),
                subject.origin,
                subject.kind,
                row,
            )
            for subject, row in zip(found, verdicts, strict=True)
        )
        return reports, Findings(
            unchecked=tuple(unchecked),
            discovery=discovery,
            self_tests=tuple(self_tests),
            pairs=sum(map(len, rows)),
            not_asked=paced + late,
            queries=client.sent,
            direct=direct_sent,
            junk=client.junk,
        )

    def _not_asked(
        self,
        found: list[Subject],
        rows: list[list[DnsblList]],
        results: list[list[Verdict | None]],
    ) -> list[tuple[Verdict, ...]]:
        """Every pair's verdict, the deadline's unasked pairs filled in with one
        shared verdict per list and family, so that this stays cheap for
        400,000 pairs: every asked pair keeps its own verdict."""
        reason = f"{NOT_ASKED}: -t {self.settings.timeout:g} ran out first"
        fills: dict[tuple[str, str], list[Verdict]] = {}
        verdicts = []
        for subject, lists, row in zip(found, rows, results, strict=True):
            family = subject.family
            if (subject.kind, family) not in fills:  # once per family: at most three times
                fills[subject.kind, family] = [
                    self._unasked(lst, family) or Verdict(lst, Status.UNUSABLE, reason=reason)
                    for lst in lists
                ]
            fill = fills[subject.kind, family]
            verdicts.append(tuple(v or f for v, f in zip(row, fill, strict=True)))
        return verdicts

    @staticmethod
    def _unasked(lst: DnsblList, family: str) -> Verdict | None:
        """The verdict of a list that is not asked at all about this family:
        dead, missing its key, or without IPv6 data. None: ask it."""
        if lst.dead:
            return Verdict(lst, Status.UNUSABLE, reason=f"dead list: {lst.dead}; remove it")
        if lst.key_required and not lst.keyed:
            why = f"needs a key: {KEYS[lst.key]} (--{lst.key}-key-file or {env_name(lst.key)})"
            return Verdict(lst, Status.UNUSABLE, reason=why)
        if family == "6" and lst.ipv6 is False:
            return Verdict(lst, Status.NOT_APPLICABLE, reason="list has no IPv6 data")
        if family == "4" and not lst.ipv4:
            return Verdict(lst, Status.NOT_APPLICABLE, reason="list has IPv6 data only")
        return None

    async def _direct(
        self, client: DnsClient, found: list[Subject], verdicts: list[tuple[Verdict, ...]]
    ) -> tuple[int, list[SelfTest]]:
        """--direct: the pairs the resolver left unusable, asked again of the
        list's own servers (found through the resolver: NS, then A/AAAA),
        without recursion, paced by the same --max-qps, within the same
        deadline; their self-test too. Replaces those verdicts in place;
        returns the queries sent to the servers, and their self-tests."""
        todo = [
            (i, j) for i, row in enumerate(verdicts) for j, v in enumerate(row) if wants_direct(v)
        ]
        zones = list(dict.fromkeys(verdicts[i][j].dnsbl.query_zone for i, j in todo))
        found_servers = await asyncio.gather(*(_servers(client, zone) for zone in zones))
        s = self.settings

        def asker(address: str) -> DnsClient:
            return DnsClient(
                (Resolver(address),),
                query_timeout=s.query_timeout,
                retries=s.retries,
                workers=s.workers,
                deadline=client.deadline,
                pacer=client.pacer,
                recursive=False,
            )

        servers: dict[str, list[tuple[str, DnsClient]] | str] = {
            zone: got
            if isinstance(got, str)
            else [(server_name(name, address), asker(address)) for name, address in got]
            for zone, got in zip(zones, found_servers, strict=True)
        }
        clients = [c for known in servers.values() if not isinstance(known, str) for _, c in known]
        chosen: dict[tuple[str, str], asyncio.Task[Server | str]] = {}
        rows = [list(row) for row in verdicts]

        async def choose(lst: DnsblList, family: str) -> Server | str:
            """The first of the zone's servers whose replies to the list's
            self-test are usable; one lame or refusing mirror never costs
            the list. Else why none would do, server by server."""
            known = servers[lst.query_zone]
            if isinstance(known, str):
                return known
            failed = []
            for shown, direct in known:
                test = await self._self_test(direct, lst, family, partial(read_direct, shown))
                bad = [v.reason for v in test.verdicts if v.status is Status.UNUSABLE]
                if not bad:
                    return shown, direct, test
                if bad[0].startswith(NOT_ASKED):  # the deadline came first
                    return bad[0]
                failed.append(bad[0])
            return "; ".join(dict.fromkeys(failed))

        async def again(i: int, j: int) -> None:
            old, subject = rows[i][j], found[i]
            lst = old.dnsbl
            key = (lst.zone, subject.family)
            if key not in chosen:
                chosen[key] = asyncio.ensure_future(choose(lst, subject.family))
            server = await chosen[key]
            if isinstance(server, str):
                if isinstance(servers[lst.query_zone], str):
                    rows[i][j] = replace(old, reason=f"{old.reason}; --direct: {server}")
                elif not server.startswith(NOT_ASKED):
                    rows[i][j] = replace(old, reason=server)
                return
            shown, direct, test = server
            read = partial(read_direct, shown)
            name = query_name(subject.value, lst)
            verdict = classify(lst, read(await direct.ask(name, A)))
            if verdict.reason.startswith(NOT_ASKED):  # the deadline came first
                return
            if verdict.status.entry:
                verdict = with_txt(verdict, read(await direct.ask(name, TXT)))
            rows[i][j] = marked(
                self_tested(verdict, *test.verdicts, test.entries, subject.family == "6"), shown
            )

        for direct in clients:
            await direct.__aenter__()
        try:
            await asyncio.gather(*(again(i, j) for i, j in todo))
        finally:
            for direct in clients:
                await direct.__aexit__()
        verdicts[:] = [tuple(row) for row in rows]
        return sum(direct.sent for direct in clients), [
            replace(server[2], zone=f"{server[2].zone} (asked {server[0]} directly)")
            for server in (task.result() for task in chosen.values())
            if not isinstance(server, str)
        ]

    @staticmethod
    def _self_test(
        client: DnsClient,
        lst: DnsblList,
        family: str,
        read: Callable[[Outcome], Outcome] = lambda outcome: outcome,
    ) -> Test:
        """The list's verdicts on its test entries (the replies read by
        ``read``: the direct path's). Both queries are sent now, before any
        real query, so that --max-qps never starves them."""
        entries = test_entries(lst, family)
        asked = asyncio.gather(*(client.query(query_name(e, lst), A) for e in entries))

        async def judged() -> SelfTest:
            positive, negative = map(read, await asked)
            return SelfTest(lst.label, entries, (classify(lst, positive), classify(lst, negative)))

        return asyncio.ensure_future(judged())

    async def _check(
        self,
        client: DnsClient,
        subject: Subject,
        lst: DnsblList,
        tests: dict[tuple[str, str], Test],
    ) -> Verdict:
        unasked = self._unasked(lst, subject.family)
        if unasked is not None:
            return unasked
        name = query_name(subject.value, lst)
        verdict = classify(lst, await client.ask(name, A))
        if verdict.status.entry:
            verdict = with_txt(verdict, await client.ask(name, TXT))
        test = await tests[(lst.zone, subject.family)]
        return self_tested(verdict, *test.verdicts, test.entries, subject.family == "6")


async def _servers(client: DnsClient, zone: str) -> list[tuple[str, str]] | str:
    """Up to DIRECT_SERVERS of a zone's own servers that have an address
    (name and address, IPv4 first, in name order), through the resolver;
    else why there are none (without the zone's name, so that lists failing
    alike share a line of the output)."""
    ns = await client.query(zone, NS)
    if isinstance(ns, Failure):
        return f"no servers known: NS query failed: {ns.reason}"
    names: Sequence[str] = sorted(ns.records)
    if not names:
        return f"no servers known: no NS records ({ns.rcode})"
    found = []
    for name in names:
        for rdtype in (A, AAAA):
            address = await client.query(name, rdtype)
            if isinstance(address, Reply) and address.records:
                found.append((name, sorted(address.records)[0]))
                break
        if len(found) == DIRECT_SERVERS:
            break
    return found or f"no address for its servers ({', '.join(n.rstrip('.') for n in names)})"
