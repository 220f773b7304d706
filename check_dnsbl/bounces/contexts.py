"""Evaluation: the Metrics of check_dnsbl_bounces become states.

- a hard rejection that cites a list the catalog rates critical: CRITICAL;
- a list the catalog does not know (a receiver's own, or a zone not in it):
  WARNING, whatever the count;
- every refused recipient citing a list (rejected or deferred) counts
  toward -w/-c (default -w 1: any deferral is a WARNING; -c 0: never);
- mail waiting in the deferred queue for a list (--queue): WARNING;
- a part of the check that could not be done (the log, the state file,
  postqueue): UNKNOWN.
"""

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Unknown, Warn

from check_dnsbl.bounces.model import Group
from check_dnsbl.bounces.settings import BouncesSettings
from check_dnsbl.contexts import Counted, Shown


class GroupContext(nagiosplugin.Context):
    """One receiver and list: CRITICAL for a hard rejection citing a critical
    list, WARNING for a list the catalog does not know; else the counts decide."""

    def __init__(self) -> None:
        super().__init__("group")

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        group: Group = metric.value
        if group.critical:
            return self.result_cls(Critical, metric=metric)
        if group.unknown:
            return self.result_cls(Warn, metric=metric)
        return self.result_cls(Ok, metric=metric)


class Refused(Counted):
    """The thresholds judge the refused recipients; rejected and deferred
    carry the perfdata, so this count has none of its own."""

    def performance(self, metric: nagiosplugin.Metric, resource: object) -> None:
        return None


class ProblemContext(nagiosplugin.Context):
    """Anything that could not be read makes the run UNKNOWN."""

    def __init__(self) -> None:
        super().__init__("problems")

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        return self.result_cls(Unknown if metric.value else Ok, metric=metric)


def build(settings: BouncesSettings) -> list[nagiosplugin.Context]:
    return [
        GroupContext(),
        Refused("refused", settings.warning, settings.critical),
        Shown("perf"),
        Counted("queued", 1),
        ProblemContext(),
        nagiosplugin.Context("evidence"),
    ]
