"""Pure: a list's zone -> its perfdata label for --perfdata-per-list.

A label must stay one name in every tool that stores perfdata: Graphite
turns each ``.`` into a path segment (icinga2's GraphiteWriter also replaces
spaces and other specials with ``_``), InfluxDB line protocol needs spaces,
commas and ``=`` escaped, and PNP4Nagios and Nagios' perfdata syntax break on
``'``, ``=`` and spaces. So a label is ``list_`` followed by the zone in
lower case, every character other than ``a-z``, ``0-9`` and ``-`` written as
``_``: ``zen.spamhaus.org`` -> ``list_zen_spamhaus_org``. The label depends on
the zone alone (never on a key, never on the other lists), so a series keeps
its name from run to run. Two zones that map to one label (``a-b.example`` is
fine, but ``a_b.example`` and ``a.b.example`` are not) are refused, never
silently merged.
"""

import re
from collections.abc import Iterable

PREFIX = "list_"
_UNSAFE = re.compile(r"[^a-z0-9-]")


def list_label(zone: str) -> str:
    """The perfdata label of ``zone``: ``list_`` and the zone, dots and every
    other character outside ``a-z0-9-`` as ``_``."""
    return PREFIX + _UNSAFE.sub("_", zone.lower().rstrip("."))


def list_labels(zones: Iterable[str]) -> dict[str, str]:
    """Each zone's label, in the order given; ValueError with a one-line
    message when two zones would share a label."""
    labels: dict[str, str] = {}
    owner: dict[str, str] = {}
    for zone in zones:
        label = list_label(zone)
        if owner.setdefault(label, zone) != zone:
            raise ValueError(
                f"--perfdata-per-list: {owner[label]} and {zone} would share the label "
                f"{label}; ask one of them only"
            )
        labels[zone] = label
    return labels
