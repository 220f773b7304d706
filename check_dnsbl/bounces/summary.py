"""Presentation: what the receivers said, per receiver and list, with the
delist link; and the mail still waiting in the queue, with the command that
retries it once the listing is gone.

The words are raw: ``summary.render`` (check_dnsbl's) cleans, bounds and
lays out the whole output, as for check_dnsbl.
"""

from collections.abc import Iterator

import nagiosplugin
from nagiosplugin.state import Unknown

from check_dnsbl.bounces.model import Evidence, Group, Waiting
from check_dnsbl.bounces.settings import BouncesSettings
from check_dnsbl.summary import TXT_BYTES, Line, printable, when

FIRST_LINE_ITEMS = 3
#: The most queue IDs named for `postqueue -i`.
IDS_SHOWN = 3


def _some(items: list[str], most: int = FIRST_LINE_ITEMS) -> str:
    more = len(items) - most
    return ", ".join(items[:most]) + (f" and {more} more" if more > 0 else "")


def _n(n: int, one: str, many: str = "") -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _counts(group: Group) -> str:
    parts = [f"{group.rejected} rejected" if group.rejected else ""]
    parts.append(f"{group.deferred} deferred" if group.deferred else "")
    return ", ".join(filter(None, parts))


def delist_link(group: Group) -> str:
    """Where to ask for removal: the catalog's page for a list it knows,
    else the link the receiver's own words give."""
    if group.listing is not None and group.listing.url:
        if group.address:
            return group.listing.lookup_url(group.address)
        return group.listing.url.split("{", 1)[0].rstrip("?=&/") or group.listing.url
    return group.citation.link


def gone(evidence: Evidence, w: Waiting) -> float:
    """When the receiver accepted mail after its last refusal citing a list
    (the listing is gone for it), or 0."""
    accepted = evidence.accepted.get(w.domain, 0.0)
    return accepted if accepted > evidence.refused.get(w.domain, 0.0) else 0.0


class BouncesSummary(nagiosplugin.Summary):
    """Words a run's Results: the ``group`` metrics and the ``evidence``."""

    def __init__(self, settings: BouncesSettings) -> None:
        self.settings = settings

    @staticmethod
    def _evidence(results: nagiosplugin.Results) -> Evidence:
        return results["evidence"].metric.value if "evidence" in results else Evidence()

    def ok(self, results: nagiosplugin.Results) -> str:
        return self._line(self._evidence(results))

    def problem(self, results: nagiosplugin.Results) -> str:
        worst = results.first_significant
        if worst.state == Unknown and worst.metric is None:
            return str(worst.hint)
        evidence = self._evidence(results)
        if evidence.problems:
            rest = self._line(evidence) if evidence.groups or evidence.waiting else ""
            return "; ".join(filter(None, [*evidence.problems, rest]))
        return self._line(evidence)

    def _line(self, e: Evidence) -> str:
        parts: list[str] = []
        if e.groups:
            rejected = sum(g.rejected for g in e.groups)
            deferred = sum(g.deferred for g in e.groups)
            counts = " and ".join(
                filter(
                    None,
                    [
                        _n(rejected, "recipient") + " rejected" if rejected else "",
                        _n(deferred, "recipient") + " deferred" if deferred else "",
                    ],
                )
            )
            worst = sorted(e.groups, key=lambda g: (-g.critical, -(g.rejected + g.deferred)))
            named = [f"{g.domain} ({g.label}: {_counts(g)})" for g in worst]
            parts.append(f"{counts} citing a blocklist since the last run: " + _some(named))
        if e.waiting:
            messages = sum(len(w.queue_ids) for w in e.waiting)
            parts.append(
                _n(messages, "deferred message")
                + " in the queue citing a blocklist: "
                + _some([f"{w.domain} ({_some(w.lists, 2)})" for w in e.waiting])
            )
            ready = [w.domain for w in e.waiting if gone(e, w)]
            if ready:
                parts.append(
                    f"{_some(ready)} {'accepts' if len(ready) == 1 else 'accept'} mail again: "
                    f"retry with {e.retry}"
                )
        if parts:
            return "; ".join(parts)
        if e.first_run:
            return f"first run: reading {e.log} from its end from now on"
        queue = "; nothing deferred for a blocklist in the queue" if e.queue_asked else ""
        return f"no blocklist bounces in {_n(e.lines, 'new log line')} since the last run" + queue

    def verbose(self, results: nagiosplugin.Results) -> Iterator[Line]:
        e = self._evidence(results)
        yield from e.notes
        for group in sorted(e.groups, key=lambda g: (-g.critical, -(g.rejected + g.deferred))):
            yield self._group_line(group)
        for w in e.waiting:
            yield self._waiting_line(e, w)
        if self.settings.verbosity >= 1:
            yield f"read {_n(e.lines, 'new line')} of {e.log}"
            for domain in sorted(set(e.refused) | set(e.accepted)):
                refused, accepted = e.refused.get(domain), e.accepted.get(domain)
                yield (
                    f"{domain}: last refused citing a blocklist "
                    + (when(refused) if refused else "never (remembered)")
                    + ", last accepted mail "
                    + (when(accepted) if accepted else "not since")
                )

    def _group_line(self, g: Group) -> str:
        span = when(g.first) if g.first == g.last else f"{when(g.first)} to {when(g.last)}"
        if g.citation.private:
            what = f"{g.label}, the private list of {g.citation.receiver}"
        elif g.listing is not None:
            what = f"{g.label} ({g.listing.name or g.listing.severity})"
        else:
            what = f"{g.label} (not in the catalog)"
        line = f"{g.domain}: {_counts(g)} citing {what}, {span}"
        if g.server:
            line += f", by {g.server}"
        words = printable(g.words, (), TXT_BYTES)
        if words:
            line += f'; they said: "{words}"'
        link = delist_link(g)
        if link:
            line += f"; delist: {link}" if g.listing is not None else f"; ask: {link}"
        return line

    def _waiting_line(self, e: Evidence, w: Waiting) -> str:
        ids = w.queue_ids[:IDS_SHOWN]
        one = e.retry.replace(" -f", f" -i {ids[0]}")
        line = (
            f"queue: {_n(len(w.queue_ids), 'message')} for {w.domain} deferred citing "
            f"{_some(w.lists, 2)}, waiting since {when(w.oldest)} ({', '.join(ids)}"
            f"{', ...' if len(w.queue_ids) > len(ids) else ''})"
        )
        accepted = gone(e, w)
        if accepted:
            return (
                f"{line}; {w.domain} accepts mail again (delivered {when(accepted)}): the "
                f"listing is gone; retry now with {e.retry} (or {one} for one message)"
            )
        words = printable(w.words, (), TXT_BYTES)
        return (
            f'{line}; they said: "{words}"; once delisted, retry with {e.retry} '
            f"(or {one} for one message)"
        )
