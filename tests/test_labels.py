"""labels: a zone's --perfdata-per-list label, safe in Graphite, InfluxDB
and PNP4Nagios, stable, and never shared by two zones."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from check_dnsbl.labels import list_label, list_labels


@pytest.mark.parametrize(
    ("zone", "label"),
    [
        ("zen.spamhaus.org", "list_zen_spamhaus_org"),
        ("b.barracudacentral.org", "list_b_barracudacentral_org"),
        ("ix.dnsbl.manitu.net", "list_ix_dnsbl_manitu_net"),
        ("dnsbl-1.uceprotect.net", "list_dnsbl-1_uceprotect_net"),
        ("ZEN.Spamhaus.ORG.", "list_zen_spamhaus_org"),
        ("a_b.example", "list_a_b_example"),
    ],
)
def test_label(zone: str, label: str) -> None:
    assert list_label(zone) == label


@given(st.text(min_size=1, max_size=80))
def test_labels_are_one_safe_name_in_every_tool(zone: str) -> None:
    # no dot (a Graphite path segment), no space, quote, '=', ',' or ';'
    # (perfdata syntax, InfluxDB line protocol, PNP4Nagios)
    assert re.fullmatch(r"list_[a-z0-9_-]*", list_label(zone))


def test_labels_keep_order_and_refuse_a_shared_label() -> None:
    assert list_labels(["zen.spamhaus.org", "bl.spamcop.net"]) == {
        "zen.spamhaus.org": "list_zen_spamhaus_org",
        "bl.spamcop.net": "list_bl_spamcop_net",
    }
    with pytest.raises(
        ValueError,
        match=r"^--perfdata-per-list: a\.b\.example and a_b\.example "
        r"would share the label list_a_b_example; ask one of them only$",
    ):
        list_labels(["a.b.example", "a_b.example"])
    assert list_labels(["a.b.example", "a.b.example"]) == {"a.b.example": "list_a_b_example"}
