"""Acquisition: the deferred queue (with --queue), then the log lines written
since the last run, under one deadline; the state file remembers where the
reading stopped.

The Resource gathers facts only and hands them on as Metrics (``metrics``
is pure): one per receiver and list, the counts, and the Evidence the
Summary words. It decides no state and words nothing.
"""

import time
from collections.abc import Iterator

import nagiosplugin

from check_dnsbl.bounces import logreader, queue, state
from check_dnsbl.bounces.collect import Collector, waiting
from check_dnsbl.bounces.maillog import parse
from check_dnsbl.bounces.model import Evidence
from check_dnsbl.bounces.settings import BouncesSettings
from check_dnsbl.catalog import Catalog
from check_dnsbl.statefile import Unavailable, keep_copy, problem, rewrite


def metrics(settings: BouncesSettings, evidence: Evidence) -> Iterator[nagiosplugin.Metric]:
    """What a run found, as Metrics. Pure: Contexts and Summary are tested on
    these alone."""
    for group in evidence.groups:
        name = f"{group.domain} {group.label}"
        yield nagiosplugin.Metric(name, group, context="group")
    rejected = sum(g.rejected for g in evidence.groups)
    deferred = sum(g.deferred for g in evidence.groups)
    yield nagiosplugin.Metric("refused", rejected + deferred, min=0, context="refused")
    yield nagiosplugin.Metric("rejected", rejected, min=0, context="perf")
    yield nagiosplugin.Metric("deferred", deferred, min=0, context="perf")
    receivers = {g.domain for g in evidence.groups}
    yield nagiosplugin.Metric("receivers", len(receivers), min=0, context="perf")
    lists = {g.label for g in evidence.groups}
    yield nagiosplugin.Metric("lists", len(lists), min=0, context="perf")
    if settings.queue:
        messages = sum(len(w.queue_ids) for w in evidence.waiting)
        yield nagiosplugin.Metric("queued", messages, min=0, context="queued")
    yield nagiosplugin.Metric("problems", len(evidence.problems), min=0, context="problems")
    yield nagiosplugin.Metric("evidence", evidence, context="evidence")


class Bounces(nagiosplugin.Resource):
    """The MTA's own evidence of blocklist rejections."""

    def __init__(self, settings: BouncesSettings) -> None:
        self.settings = settings

    @property
    def name(self) -> str:
        return "BOUNCES"

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        s = self.settings
        evidence = Evidence(log=str(s.log), queue_asked=s.queue)
        evidence.retry = queue.retry_command(s.config_dir)
        if s.queue:
            try:
                queued, note = queue.list_deferred(s.config_dir, s.deadline)
                evidence.waiting = waiting(queued)
                evidence.notes += [note] if note else []
            except queue.QueueError as exc:
                evidence.problems.append(str(exc))
        try:
            rewrite(
                s.state_file, s.deadline, state.MAX_BYTES, lambda raw: self._read(raw, evidence)
            )
        except logreader.LogError as exc:
            evidence.problems.append(str(exc))
        except Exception as exc:  # the state file: without it, nothing is "new"
            evidence.problems.append(f"state file unavailable: {problem(s.state_file, exc)}")
        return metrics(s, evidence)

    def _read(self, raw: bytes, evidence: Evidence) -> tuple[bytes, None]:
        """Under the state file's lock: read on from where the last run
        stopped, and the new state's bytes."""
        s, now = self.settings, time.time()
        try:
            known = state.load(raw, s.log, now)
        except state.Foreign as exc:
            raise Unavailable(f"{s.state_file} {exc}; not touching it") from None
        except state.Corrupt as exc:
            copy = keep_copy(s.state_file, raw, str(exc), state.MAX_BYTES)
            evidence.notes.append(
                f"state file {s.state_file} was corrupt ({exc}) and has been reset; "
                f"the damaged copy is {copy}"
            )
            known = state.State(str(s.log))
        collector = Collector(evidence, Catalog.load())

        def consume(line: bytes) -> None:
            delivery = parse(line, now)
            if delivery is not None:
                collector.add(delivery)

        reading = logreader.read_new(s.log, known.position, s.deadline, consume)
        evidence.lines, evidence.first_run = reading.lines, reading.first
        evidence.notes += reading.notes
        if collector.dropped:
            evidence.notes.append(
                f"{collector.dropped} refusals of more receivers and lists not shown "
                f"(at most {len(evidence.groups)} kept)"
            )
        for domain, when in evidence.refused.items():
            seen = known.receivers.setdefault(domain, {})
            seen["refused"] = max(seen.get("refused", 0.0), when)
        for domain, when in evidence.accepted.items():
            if domain in known.receivers or domain in {w.domain for w in evidence.waiting}:
                seen = known.receivers.setdefault(domain, {})
                seen["accepted"] = max(seen.get("accepted", 0.0), when)
                if collector.last.get(domain) == "accepted":  # after every refusal read
                    seen["accepted"] = max(seen["accepted"], seen.get("refused", 0.0) + 0.001)
        evidence.refused = {d: v["refused"] for d, v in known.receivers.items() if "refused" in v}
        evidence.accepted = {
            d: v["accepted"] for d, v in known.receivers.items() if "accepted" in v
        }
        known.position = reading.position
        return state.dumps(known), None
