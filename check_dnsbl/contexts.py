"""Evaluation: verdicts and counts become states.

Thresholds are counts, as in check_rbl: ``-w N`` is WARNING at N or more
listings. Perfdata carries the equivalent Nagios range, ``N-1``.
"""

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Unknown, Warn

from check_dnsbl.verdict import Status, TargetReport


def count_range(at_least: int) -> str:
    """The Nagios range that alerts at ``at_least`` or more ("" when disabled)."""
    return str(at_least - 1) if at_least > 0 else ""


class TargetContext(nagiosplugin.Context):
    """One address or domain: a hit on a critical-severity list is CRITICAL
    by itself; other hits (info lists excluded) count toward -w/-c."""

    def __init__(self, warning: int, critical: int, enabled: bool = True) -> None:
        super().__init__("target")
        self.warning, self.critical, self.enabled = warning, critical, enabled

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        report: TargetReport = metric.value
        counted = report.counted
        if not self.enabled:  # --new-listings-only: NewListingContext decides
            return self.result_cls(Ok, metric=metric)
        if any(v.dnsbl.severity == "critical" for v in counted) or len(counted) >= self.critical:
            return self.result_cls(Critical, metric=metric)
        if len(counted) >= self.warning:
            return self.result_cls(Warn, metric=metric)
        return self.result_cls(Ok, metric=metric)


class ErrorsContext(nagiosplugin.Context):
    """Unusable lists: WARNING/CRITICAL at the --errors-* counts; UNKNOWN
    when no list gave a usable answer at all, since then nothing is known."""

    def __init__(self, warning: int, critical: int) -> None:
        super().__init__("errors")
        self.warning, self.critical = warning, critical

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        reports: tuple[TargetReport, ...] = getattr(resource, "reports", ())
        if not any(r.having(Status.LISTED, Status.CLEAN) for r in reports):
            return self.result_cls(Unknown, metric=metric)
        if self.critical and metric.value >= self.critical:
            return self.result_cls(Critical, metric=metric)
        if self.warning and metric.value >= self.warning:
            return self.result_cls(Warn, metric=metric)
        return self.result_cls(Ok, metric=metric)

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance:
        return nagiosplugin.Performance(
            "errors",
            metric.value,
            "",
            count_range(self.warning),
            count_range(self.critical),
            metric.min,
            metric.max,
        )


class UncheckedContext(nagiosplugin.Context):
    """Names that did not resolve and addresses past --max-addresses: part of
    what the admin asked for was not checked, so WARNING (the other targets
    keep their verdicts; when nothing at all was checked, ErrorsContext says
    UNKNOWN)."""

    def __init__(self, enabled: bool = True) -> None:
        super().__init__("unchecked")
        self.enabled = enabled

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        return self.result_cls(Warn if metric.value and self.enabled else Ok, metric=metric)

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance:
        return nagiosplugin.Performance(
            "unchecked", metric.value, "", count_range(1 if self.enabled else 0), "", 0
        )


class PerfContext(nagiosplugin.Context):
    """Perfdata only; never changes the state. The thresholds shown are the
    -w/-c counts as Nagios ranges, so graphs can draw them."""

    def __init__(self, name: str, warning: int = 0, critical: int = 0) -> None:
        super().__init__(name)
        self.warning, self.critical = warning, critical

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
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


class NewListingContext(nagiosplugin.Context):
    """--new-listing-state: a run that found a new listing reports at least
    that state, so a volatile service notifies once per new listing."""

    def __init__(self, state: str) -> None:
        super().__init__("new")
        self.state = {"warning": Warn, "critical": Critical}.get(state, Ok)

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        return self.result_cls(self.state if metric.value else Ok, metric=metric)

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance:
        return nagiosplugin.Performance("new", metric.value, "", "", "", 0)
