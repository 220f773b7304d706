import ipaddress

import pytest

from check_dnsbl.querynames import TEST_ENTRIES, ip_query_name


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("192.0.2.99", "99.2.0.192.bad.example.com"),  # RFC 5782 §2.1
        (
            "2001:db8:1:2:3:4:567:89ab",  # RFC 5782 §2.4
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bad.example.com",
        ),
    ],
)
def test_rfc5782_examples(address: str, expected: str) -> None:
    assert ip_query_name(ipaddress.ip_address(address), "bad.example.com") == expected


def test_ipv6_test_entries_stay_ipv6() -> None:
    """dnspython's reversename would turn ::ffff:7f00:2 into an in-addr.arpa name."""
    listed, unlisted = TEST_ENTRIES[6]
    assert ip_query_name(listed, "z.test") == "2.0.0.0.0.0.f.7.f.f.f.f" + ".0" * 20 + ".z.test"
    assert ip_query_name(unlisted, "z.test").startswith("1.0.0.0.0.0.f.7.f.f.f.f.0.")


def test_ipv4_test_entries() -> None:
    listed, unlisted = TEST_ENTRIES[4]
    assert ip_query_name(listed, "zen.spamhaus.org") == "2.0.0.127.zen.spamhaus.org"
    assert ip_query_name(unlisted, "zen.spamhaus.org") == "1.0.0.127.zen.spamhaus.org"
