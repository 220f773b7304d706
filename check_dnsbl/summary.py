"""Presentation: a short, pager-friendly first line and a long output that
says, per listing, what the code means, why (TXT) and where to ask for
removal, and, per unusable list, why it could not be used. An allowlist or
reputation zone's entry is worded for what it is (``on list.dnswl.org:
trusted (low)``), never as a listing.

The long output is printed at the default verbosity, because notifications
carry it: the delist link must reach the admin with the alert.
"""

import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from ipaddress import IPv4Address

import nagiosplugin
from nagiosplugin.state import Unknown

from check_dnsbl.history import key, split_key
from check_dnsbl.keys import redact
from check_dnsbl.model import Changes, Discovery, Findings, Status, TargetReport, Verdict
from check_dnsbl.querynames import show
from check_dnsbl.settings import Settings

FIRST_LINE_ITEMS = 5
#: Nagios reads 8 KB of plugin output (MAX_PLUGIN_OUTPUT_LENGTH), in bytes:
#: the whole output fits, first line and perfdata always, long output as far
#: as it goes.
OUTPUT_BYTES = 8192
FIRST_LINE_BYTES = 1000
LINE_BYTES = 1000
TXT_BYTES = 300


def clean_text(text: str) -> str:
    """TXT records are arbitrary bytes: drop ``|`` (the perfdata separator),
    control characters and undecodable bytes, and fold whitespace."""
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch not in "|\ufffd" and (ch.isspace() or unicodedata.category(ch)[0] != "C")
    )
    return " ".join(kept.split())


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` UTF-8 bytes, cut on a character boundary."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "..."


def printable(text: str, secrets: tuple[str, ...], limit: int) -> str:
    """Clean, then redact, then cut: in this order, so that no control
    character can split a key past the redaction, and no cut can leave a
    key's first characters behind."""
    return cut(redact(clean_text(text), secrets), limit)


#: A long-output line, or a function that words it: a line that does not fit
#: in the output is then never worded (a /20 on 100 lists has 400,000).
Line = str | Callable[[], str]


def fit(lines: Iterable[Line], budget: int, secrets: tuple[str, ...]) -> list[str]:
    """The long output lines that fit in ``budget`` bytes, and a note of how
    many did not. Each line is worded and made printable only when reached."""
    kept: list[str] = []
    used = 0
    rest = iter(lines)
    for line in rest:
        text = printable(line if isinstance(line, str) else line(), secrets, LINE_BYTES)
        if not text:
            continue
        size = len(text.encode()) + 1
        if used + size > budget - 60:
            more = 1 + sum(1 for _ in rest)
            return [*kept, f"... {more} more lines not shown (output limit)"]
        kept.append(text)
        used += size
    return kept


def render(check: nagiosplugin.Check, secrets: tuple[str, ...]) -> str:
    """The plugin's whole output, as nagiosplugin lays it out at -v (first
    line, long output, ``| perfdata``), within OUTPUT_BYTES."""
    first = f"{check.name.upper()} {str(check.state).upper()} - "
    first += printable(check.summary_str, secrets, FIRST_LINE_BYTES - len(first))
    perfdata = " ".join(check.perfdata)
    tail = [f"| {perfdata}"] if perfdata else []
    budget = OUTPUT_BYTES - sum(len(line.encode()) + 1 for line in [first, *tail])
    return "\n".join([first, *fit(check.verbose_str or (), budget, secrets), *tail]) + "\n"


def headline(reason: str) -> str:
    """The part of a reason that fits on the first line."""
    return reason.split(" (", maxsplit=1)[0]


def when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))


def _code_tag(verdict: Verdict, code: IPv4Address) -> str:
    """What one code says on the first line: its tag; a code the list's
    table does not have is an ``unknown code``; a list without a table
    shows the code itself."""
    meaning = verdict.dnsbl.decode(code)
    if meaning is not None:
        return meaning.tag
    return f"{code} unknown code" if verdict.dnsbl.documented else str(code)


def _tags(verdict: Verdict, new: bool = False) -> list[str]:
    tags: list[str] = []
    for tag in (_code_tag(verdict, code) for code in verdict.codes):
        if tag and tag not in tags:
            tags.append(tag)
    if verdict.status is Status.LISTED and verdict.severity == "info":
        tags.append("info")
    if new:
        tags.append("NEW")
    if len(tags) > 4:  # a list answering a thousand codes must not flood the pager
        tags = [*tags[:3], f"+{len(tags) - 3} more"]
    return tags


def listing(verdict: Verdict, new: bool = False) -> str:
    """``zen.spamhaus.org (XBL)``: the zone and what its code says."""
    tags = _tags(verdict, new)
    shown = f"{verdict.dnsbl.label} ({', '.join(tags)})" if tags else verdict.dnsbl.label
    return shown + _asked(verdict)


def _asked(verdict: Verdict) -> str:
    """`` (asked ns1.example [192.0.2.53] directly)``: a verdict of --direct."""
    return f" (asked {verdict.direct} directly)" if verdict.direct else ""


def _clean_direct(reports: list[TargetReport]) -> str:
    """Which "not listed" came from a list's own server (--direct)."""
    asked = {v.dnsbl.label: v for r in reports for v in r.clean if v.direct}
    if len(asked) == 1 and all(r.asked == 1 for r in reports):
        return _asked(next(iter(asked.values())))
    return "".join(f"; {label}{_asked(v)}" for label, v in asked.items())


def rating(report: TargetReport) -> str:
    """``on list.dnswl.org: trusted (low)``: the allowlists and reputation
    zones that have an entry for the target, and what each entry says."""
    rated = [
        f"{v.dnsbl.label}: {', '.join(tags)}" if (tags := _tags(v)) else v.dnsbl.label
        for v in report.having(Status.RATED)
    ]
    return "on " + _some(rated)


def _some(items: list[str], most: int = FIRST_LINE_ITEMS) -> str:
    shown = ", ".join(items[:most])
    more = len(items) - most
    return f"{shown} and {more} more" if more > 0 else shown


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _who(report: TargetReport) -> str:
    return f"{report.target} ({report.origin})" if report.origin else report.target


def _noun(reports: list[TargetReport]) -> str:
    kinds = {r.kind for r in reports}
    return "targets" if len(kinds) > 1 else "domains" if kinds == {"domain"} else "addresses"


def _verdict_line(report: TargetReport, v: Verdict) -> str:
    detail = f" ({v.reason})" if v.reason else _asked(v)
    if v.status is Status.CLEAN and not v.dnsbl.blocks:
        detail = f" ({v.dnsbl.role}: no entry, which is neither good nor bad news)"
    return f"{v.dnsbl.label}: {report.target} {v.status.value}{detail}"


def _quiet(reports: list[TargetReport]) -> str:
    """The allowlists and reputation zones that answered without an entry:
    no news, neither good nor bad."""
    return _some(list({v.dnsbl.label: None for r in reports for v in r.having(Status.CLEAN)}))


class DnsblSummary(nagiosplugin.Summary):
    """Words the results of a run, from the Results alone: the target
    metrics' reports and the ``findings`` metric. The text is raw: ``render``
    cleans, redacts and bounds every line."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @staticmethod
    def _reports(results: nagiosplugin.Results) -> list[TargetReport]:
        return [r.metric.value for r in results if r.metric and r.metric.context == "target"]

    @staticmethod
    def _findings(results: nagiosplugin.Results) -> Findings:
        return results["findings"].metric.value if "findings" in results else Findings()

    def ok(self, results: nagiosplugin.Results) -> str:
        return self._line(self._reports(results), self._findings(results))

    def problem(self, results: nagiosplugin.Results) -> str:
        worst = results.first_significant
        if worst.state == Unknown and worst.metric is None:
            return str(worst.hint)  # CheckError
        reports, findings = self._reports(results), self._findings(results)
        if worst.state == Unknown:
            if not reports:  # nothing resolved: say why, name by name
                unchecked = [u.reason for u in findings.unchecked[:FIRST_LINE_ITEMS]]
                return "; ".join(unchecked) or "nothing to check"
            reasons = Counter(headline(v.reason) for r in reports for v in r.verdicts if v.reason)
            who = _some([r.target for r in reports])
            why = reasons.most_common(1)[0][0] if reasons else "no list to ask"
            return f"no usable answer from any list for {who}: {why}"
        return self._line(reports, findings)

    def _line(self, reports: list[TargetReport], findings: Findings) -> str:
        changes = findings.changes
        unusable: dict[str, str] = {}
        for report in reports:
            for v in report.having(Status.UNUSABLE):
                if v.dnsbl.label not in unusable:
                    unusable[v.dnsbl.label] = headline(v.reason)
        tail = ""
        if unusable:
            # the reasons while they fit on a pager's line; past that, only the lists
            named = (
                [f"{z} ({w})" for z, w in unusable.items()]
                if len(unusable) <= 3
                else list(unusable)
            )
            tail = f"; {len(unusable)} unusable: " + _some(named)
        if findings.unchecked:
            tail += "; " + _some([u.reason for u in findings.unchecked], 3)
        if changes.delisted:
            gone = [split_key(k) for k in changes.delisted]
            if len(reports) == 1:
                tail += "; delisted from " + _some([zone for _, zone in gone])
            else:
                tail += "; delisted: " + _some([f"{who} from {zone}" for who, zone in gone])

        def tagged(r: TargetReport, v: Verdict) -> str:
            return listing(v, key(r.target, v.dnsbl.zone) in changes.new)

        if len(reports) == 1:
            report = reports[0]
            hits = report.having(Status.LISTED)
            lists = _plural(report.asked, "list")
            good = rating(report) if report.having(Status.RATED) else ""
            if hits:
                named_all = _some([tagged(report, v) for v in hits])
                head = f"{_who(report)} listed on {len(hits)} of {lists}: {named_all}"
            elif report.asked:
                clean = len(report.clean)
                of = f"{clean} of {lists}" if clean != report.asked else lists
                head = f"{_who(report)} not listed on {of}{_clean_direct(reports)}"
            else:  # only allowlists and reputation zones answered
                return f"{_who(report)} {good or 'has no entry on ' + _quiet(reports)}{tail}"
            return head + (f"; {good}" if good else "") + tail
        listed = [r for r in reports if r.having(Status.LISTED)]
        noun = _noun(reports)
        rated = [f"{_who(r)} {rating(r)}" for r in reports if r.having(Status.RATED)]
        if len(rated) > FIRST_LINE_ITEMS:
            rated[FIRST_LINE_ITEMS:] = [f"and {len(rated) - FIRST_LINE_ITEMS} more"]
        good = "".join(f"; {item}" for item in rated)
        if not listed:
            most = max(r.asked for r in reports)
            if not most:  # only allowlists and reputation zones answered
                quiet = f"{len(reports)} {noun} have no entry on {_quiet(reports)}"
                return (good[2:] or quiet) + tail
            lists = _plural(most, "list")
            judged = sum(1 for r in reports if r.clean)
            of = f"{judged} of {len(reports)}" if judged < len(reports) else str(len(reports))
            return f"{of} {noun} not listed on {lists}{_clean_direct(reports)}{good}{tail}"
        each = [
            f"{_who(r)} on " + _some([tagged(r, v) for v in r.having(Status.LISTED)])
            for r in listed[:FIRST_LINE_ITEMS]
        ]
        if len(listed) > FIRST_LINE_ITEMS:
            each.append(f"and {len(listed) - FIRST_LINE_ITEMS} more")
        head = f"{len(listed)} of {len(reports)} {noun} listed: " + "; ".join(each)
        return head + good + tail

    def verbose(self, results: nagiosplugin.Results) -> Iterator[Line]:
        """The long output, lazily: ``render`` stops reading at its byte bound."""
        reports, findings = self._reports(results), self._findings(results)
        changes, verbosity = findings.changes, self.settings.verbosity
        if findings.discovery:
            yield from _disagreements(findings.discovery)
        if findings.not_asked:
            yield self._not_asked(findings)
        yield from (line for line in (changes.problem, changes.warning) if line)
        yield from (u.reason for u in findings.unchecked)
        for status in (Status.LISTED, Status.RATED):  # listings first: they are the news
            for report in reports:
                for v in report.having(status):
                    yield partial(self._entry_line, report, v, changes)
        yield from self._unusable_lines(reports)
        for k, first in changes.delisted.items():
            who, zone = split_key(k)
            yield f"{who} delisted from {zone} (listed since {when(first)})"
        if verbosity >= 1:
            for k, stamp in changes.earlier.items():
                who, zone = split_key(k)
                yield f"{who} delisted from {zone} on {when(stamp)}"
            for who, why in findings.discovery.failed if findings.discovery else ():
                yield f"outbound discovery failed: {who}: {why}"
            for report in reports:
                for v in report.having(Status.CLEAN, Status.NOT_APPLICABLE):
                    yield partial(_verdict_line, report, v)
        if verbosity >= 3:
            tests: dict[str, list[str]] = {}
            for test in findings.self_tests:
                said = zip(test.entries, test.verdicts, strict=True)
                tests.setdefault(test.zone, []).append(
                    ", ".join(f"{entry} {v.status.value}" for entry, v in said)
                )
            yield from (f"self-test {zone}: " + "; ".join(each) for zone, each in tests.items())
        if verbosity >= 2 and reports:
            yield (
                f"{findings.queries} queries sent to "
                + ", ".join(str(r) for r in self.settings.resolvers)
                + (f", {findings.direct} to the lists' own servers" if findings.direct else "")
                + f"; {findings.junk} malformed or mismatched replies ignored"
            )

    def _not_asked(self, findings: Findings) -> str:
        s = self.settings
        why = f"; --max-qps {s.max_qps:g} paces the queries" if s.max_qps else ""
        return (
            f"{findings.not_asked} of {findings.pairs} (target, list) pairs not asked before "
            f"the deadline (-t {s.timeout:g}){why}"
        )

    @staticmethod
    def _unusable_lines(reports: list[TargetReport]) -> list[str]:
        """One line per reason: a dead list is said once, not once per address,
        and 150 lists failing alike (a resolver refusing them) share one line."""
        by_zone: dict[tuple[str, str], list[str]] = {}
        for report in reports:
            for v in report.having(Status.UNUSABLE):
                by_zone.setdefault((v.dnsbl.label, v.reason), []).append(report.target)
        grouped: dict[tuple[str, str], list[str]] = {}
        for (label, reason), targets in by_zone.items():
            if len(reports) > 1 and len(targets) == len(reports):
                who = f"all {len(targets)} {_noun(reports)}"
            else:
                who = _some(targets)
            grouped.setdefault((who, reason), []).append(label)
        return [
            f"{_some(labels, 10)} unusable for {who}: {reason}"
            for (who, reason), labels in grouped.items()
        ]

    def _entry_line(self, report: TargetReport, v: Verdict, changes: Changes) -> str:
        """A listing, or an allowlist or reputation entry: each code and what
        it means, the TXT reason, and where to look the target up."""
        parts = []
        for code in v.codes:
            meaning = v.dnsbl.decode(code)
            if meaning is None:
                known = " (not in the catalog's table of this list)" * v.dnsbl.documented
                parts.append(_code_tag(v, code) + known)
            else:
                tag = f"{meaning.tag}: " if meaning.tag else ""
                parts.append(f"{code} {tag}{meaning.meaning}")
        k = key(report.target, v.dnsbl.zone)
        if v.status is Status.LISTED:
            new = " (NEW)" if k in changes.new else ""
            line = f"{report.target} listed on {v.dnsbl.label}{new}: " + "; ".join(parts)
            if v.dnsbl.severity == "info":
                line += " (informational list)"
            elif v.severity == "info":
                line += " (informational code: never raises the state)"
            if k in changes.since:
                line += f"; listed since {when(changes.since[k])}"
        else:
            role = f"{v.dnsbl.role}, never a listing"
            line = f"{report.target} on {v.dnsbl.label} ({role}): " + "; ".join(parts)
        if v.direct:
            line += f"; asked {v.direct} directly"
        txt = printable(v.txt, self.settings.secrets, TXT_BYTES)
        if txt:
            line += f'; reason: "{txt}"'
        url = v.dnsbl.lookup_url(report.target)
        if url:
            line += f"; lookup/delist: {url}" if v.status is Status.LISTED else f"; lookup: {url}"
        return line


def _disagreements(discovery: Discovery) -> Iterator[str]:
    """Where the discovery methods disagree within a family (each address is
    checked): the admin must know which one the mail really leaves from."""
    for family in (4, 6):
        seen = [(a, methods) for a, methods in discovery.found if a.version == family]
        if len(seen) > 1:
            says = ", ".join(f"{'+'.join(methods)} says {show(a)}" for a, methods in seen)
            yield f"outbound IPv{family} discovery disagrees: {says}; checking each"
