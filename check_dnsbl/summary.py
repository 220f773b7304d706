"""Presentation: a short, pager-friendly first line and a long output that
says, per listing, what the code means, why (TXT) and where to ask for
removal, and, per unusable list, why it could not be used.

The long output is printed at the default verbosity, because notifications
carry it: the delist link must reach the admin with the alert.
"""

import unicodedata
from collections import Counter

import nagiosplugin
from nagiosplugin.state import Unknown

from check_dnsbl.verdict import AddressReport, Status, Verdict

FIRST_LINE_ITEMS = 5


def clean_text(text: str, limit: int = 300) -> str:
    """TXT records are arbitrary bytes: drop ``|`` (the perfdata separator),
    control characters and undecodable bytes, fold whitespace, bound the length."""
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch not in "|\ufffd" and (ch.isspace() or unicodedata.category(ch)[0] != "C")
    )
    folded = " ".join(kept.split())
    return folded if len(folded) <= limit else folded[: limit - 3] + "..."


def headline(reason: str) -> str:
    """The part of a reason that fits on the first line."""
    return reason.split(" (", maxsplit=1)[0]


def _tags(verdict: Verdict) -> list[str]:
    tags: list[str] = []
    for code in verdict.codes:
        meaning = verdict.dnsbl.decode(code)
        tag = str(code) if meaning is None else meaning.tag
        if tag and tag not in tags:
            tags.append(tag)
    if verdict.dnsbl.severity == "info":
        tags.append("info")
    return tags


def listing(verdict: Verdict) -> str:
    """``zen.spamhaus.org (XBL)``: the zone and what its code says."""
    tags = _tags(verdict)
    return f"{verdict.dnsbl.zone} ({', '.join(tags)})" if tags else verdict.dnsbl.zone


def _some(items: list[str]) -> str:
    shown = ", ".join(items[:FIRST_LINE_ITEMS])
    more = len(items) - FIRST_LINE_ITEMS
    return f"{shown} and {more} more" if more > 0 else shown


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _who(report: AddressReport) -> str:
    return f"{report.address} ({report.origin})" if report.origin else report.address


class DnsblSummary(nagiosplugin.Summary):
    """Words the results of a run; ``verbosity`` is the user's -v count."""

    def __init__(self, verbosity: int = 0) -> None:
        self.verbosity = verbosity

    @staticmethod
    def _reports(results: nagiosplugin.Results) -> list[AddressReport]:
        return [
            r.metric.value
            for r in results
            if r.metric is not None and r.metric.context == "address"
        ]

    def ok(self, results: nagiosplugin.Results) -> str:
        return self._line(self._reports(results))

    def problem(self, results: nagiosplugin.Results) -> str:
        worst = results.first_significant
        if worst.state == Unknown and worst.metric is None:
            return str(worst.hint)  # CheckError: e.g. a host name that does not resolve
        reports = self._reports(results)
        if worst.state == Unknown:
            reasons = Counter(headline(v.reason) for r in reports for v in r.verdicts if v.reason)
            who = ", ".join(r.address for r in reports)
            why = reasons.most_common(1)[0][0] if reasons else "no list to ask"
            return f"no usable answer from any list for {who}: {why}"
        return self._line(reports)

    def _line(self, reports: list[AddressReport]) -> str:
        unusable: dict[str, str] = {}
        for report in reports:
            for v in report.having(Status.UNUSABLE):
                unusable.setdefault(v.dnsbl.zone, headline(v.reason))
        tail = (
            f"; {len(unusable)} unusable: "
            + _some([f"{z} ({why})" for z, why in unusable.items()])
            if unusable
            else ""
        )
        if len(reports) == 1:
            report = reports[0]
            hits = report.having(Status.LISTED)
            if hits:
                return (
                    f"{_who(report)} listed on {len(hits)} of {_plural(report.asked, 'list')}: "
                    + _some([listing(v) for v in hits])
                    + tail
                )
            clean = len(report.having(Status.CLEAN))
            asked = _plural(report.asked, "list")
            of = f"{clean} of {asked}" if clean != report.asked else asked
            return f"{_who(report)} not listed on {of}" + tail
        listed = [r for r in reports if r.having(Status.LISTED)]
        if not listed:
            lists = _plural(max(r.asked for r in reports), "list")
            return f"{len(reports)} addresses not listed on {lists}" + tail
        each = [
            f"{_who(r)} on " + ", ".join(listing(v) for v in r.having(Status.LISTED))
            for r in listed
        ]
        return f"{len(listed)} of {len(reports)} addresses listed: " + "; ".join(each) + tail

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        lines: list[str] = []
        reports = self._reports(results)
        for report in reports:
            for v in report.having(Status.LISTED):
                lines.append(self._listed_line(report, v))
        for report in reports:
            for v in report.having(Status.UNUSABLE):
                lines.append(f"{v.dnsbl.zone} unusable for {report.address}: {v.reason}")
        if self.verbosity >= 1:
            for report in reports:
                for v in report.having(Status.CLEAN, Status.NOT_APPLICABLE):
                    detail = f" ({v.reason})" if v.reason else ""
                    lines.append(f"{v.dnsbl.zone}: {report.address} {v.status.value}{detail}")
        if self.verbosity >= 2:
            resource = next((r.resource for r in results if r.resource is not None), None)
            if resource is not None and resource.reports:
                lines.append(
                    f"{resource.queries} queries sent to "
                    + ", ".join(str(r) for r in resource.settings.resolvers)
                    + f"; {resource.junk} malformed or mismatched replies ignored"
                )
        return [clean_text(line, 1000) for line in lines]

    @staticmethod
    def _listed_line(report: AddressReport, v: Verdict) -> str:
        parts = []
        for code in v.codes:
            meaning = v.dnsbl.decode(code)
            if meaning is None:
                parts.append(f"{code}")
            else:
                tag = f"{meaning.tag}: " if meaning.tag else ""
                parts.append(f"{code} {tag}{meaning.meaning}")
        line = f"{report.address} listed on {v.dnsbl.zone}: " + "; ".join(parts)
        if v.dnsbl.severity == "info":
            line += " (informational list)"
        if v.txt:
            line += f'; reason: "{clean_text(v.txt)}"'
        url = v.dnsbl.lookup_url(report.address)
        if url:
            line += f"; lookup/delist: {url}"
        return line
