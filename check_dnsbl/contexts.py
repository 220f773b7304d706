"""Evaluation: the Resource's Metrics become states. Contexts read only the
metric they judge, never the Resource.

Thresholds are counts, as in check_rbl: ``-w N`` is WARNING at N or more
listings of one address. Perfdata carries the equivalent Nagios range,
``N-1``, on the metric the state is computed from (``listed``: the worst
address's count), never on a total.
"""

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Unknown, Warn

from check_dnsbl.model import TargetReport
from check_dnsbl.settings import Settings


def count_range(at_least: int) -> str:
    """The Nagios range that alerts at ``at_least`` or more ("" when disabled)."""
    return str(at_least - 1) if at_least > 0 else ""


class Counted(nagiosplugin.Context):
    """A count: WARNING/CRITICAL at ``warning``/``critical`` or more (0: never),
    with those thresholds as ranges in its perfdata."""

    def __init__(self, name: str, warning: int = 0, critical: int = 0) -> None:
        super().__init__(name)
        self.warning, self.critical = warning, critical

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        if self.critical and metric.value >= self.critical:
            return self.result_cls(Critical, metric=metric)
        if self.warning and metric.value >= self.warning:
            return self.result_cls(Warn, metric=metric)
        return self.result_cls(Ok, metric=metric)

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance:
        return nagiosplugin.Performance(
            metric.name,
            metric.value,
            metric.uom or "",
            count_range(self.warning),
            count_range(self.critical),
            metric.min,
            "" if metric.max is None else metric.max,
        )


class Shown(Counted):
    """A count that is shown in the perfdata and never changes the state."""

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        return self.result_cls(Ok, metric=metric)


class TargetContext(nagiosplugin.Context):
    """One address or domain: a listing whose code (or, for a code without
    its own, whose list) is of severity critical is CRITICAL by itself;
    other listings count toward -w/-c, except info ones. Allowlist and
    reputation hits are not listings: they never count."""

    def __init__(self, warning: int, critical: int) -> None:
        super().__init__("target")
        self.warning, self.critical = warning, critical

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        report: TargetReport = metric.value
        counted = report.counted
        if any(v.severity == "critical" for v in counted) or len(counted) >= self.critical:
            return self.result_cls(Critical, metric=metric)
        if len(counted) >= self.warning:
            return self.result_cls(Warn, metric=metric)
        return self.result_cls(Ok, metric=metric)


class UsableContext(nagiosplugin.Context):
    """Usable answers (listed or not listed): none means nothing is known,
    whatever the reason (resolver down, every list failing, no name
    resolving): UNKNOWN. No perfdata: ``errors`` and ``unchecked`` say why."""

    def __init__(self) -> None:
        super().__init__("usable")

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        return self.result_cls(Ok if metric.value else Unknown, metric=metric)


class NewListingContext(Counted):
    """--new-listing-state: a run that found a new listing reports at least
    that state, so a volatile service notifies once per new listing."""

    def __init__(self, state: str) -> None:
        super().__init__("new")
        self.state = {"warning": Warn, "critical": Critical}.get(state, Ok)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        return self.result_cls(self.state if metric.value else Ok, metric=metric)


def build(settings: Settings) -> list[nagiosplugin.Context]:
    """The contexts of a run.

    ``target``, ``listed``, ``errors`` and ``unchecked`` judge by the
    thresholds. With --new-listings-only (a volatile companion service) the
    state comes from new listings alone: those four are then shown, never
    judged. ``findings`` (what the Summary words) is never judged."""
    s = settings
    if s.new_listings_only:
        judged: list[nagiosplugin.Context] = [
            nagiosplugin.Context("target"),
            Shown("listed"),
            Shown("errors"),
            Shown("unchecked"),
        ]
    else:
        judged = [
            TargetContext(s.warning, s.critical),
            # the state comes from each target; ``listed`` is the worst target's
            # count, so its range tells a graph what the state says
            Shown("listed", s.warning, s.critical),
            Counted("errors", s.errors_warning, s.errors_critical),
            Counted("unchecked", 1),
        ]
    return [
        *judged,
        UsableContext(),
        NewListingContext(s.new_listing_state),
        Shown("perf"),
        nagiosplugin.Context("findings"),
    ]
