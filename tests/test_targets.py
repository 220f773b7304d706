import ipaddress

import pytest

from check_dnsbl.model import Domain, HostName, Outbound
from check_dnsbl.querynames import registrable_domain
from check_dnsbl.targets import parse_domain, parse_host, parse_mx


def test_addresses_and_names() -> None:
    assert parse_host("2001:DB8::1", 256) == (ipaddress.ip_address("2001:db8::1"),)
    assert parse_host("Mail.Example.COM.", 256) == (HostName("mail.example.com"),)
    assert parse_host("outbound", 256) == (Outbound(),)


def test_network_expands_to_every_address() -> None:
    addresses = parse_host("198.51.100.0/24", 256)
    assert len(addresses) == 256
    assert (str(addresses[0]), str(addresses[-1])) == ("198.51.100.0", "198.51.100.255")
    assert parse_host("198.51.100.7/32", 256) == (ipaddress.ip_address("198.51.100.7"),)
    assert len(parse_host("2001:db8::/120", 256)) == 256


@pytest.mark.parametrize(
    ("text", "limit", "message"),
    [
        ("198.51.100.0/23", 256, "198.51.100.0/23 has 512 addresses; the limit is 256"),
        ("2001:db8::/64", 256, "2001:db8::/64 has 18446744073709551616 addresses"),
        ("198.51.100.0/33", 256, "'198.51.100.0/33' is not a network"),
        ("300.1.1.1", 256, "'300.1.1.1' is not an IP address or host name"),
        ("a b", 256, "'a b' is not an IP address or host name"),
        ("1.2.3", 256, "'1.2.3' is not an IP address or host name"),
    ],
)
def test_bad_hosts(text: str, limit: int, message: str) -> None:
    with pytest.raises(ValueError, match=r".") as info:
        parse_host(text, limit)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("name", "registrable"),
    [
        ("example.com", "example.com"),
        ("mail.out.example.com", "example.com"),
        ("www.example.co.uk", "example.co.uk"),
        ("shop.example.com.au", "example.com.au"),
        ("a.b.example.de", "example.de"),
    ],
)
def test_registrable_domain(name: str, registrable: str) -> None:
    assert registrable_domain(name) == registrable


def test_domain_keeps_the_name_given() -> None:
    assert parse_domain("Mail.Example.com") == Domain("example.com", "mail.example.com")
    assert parse_domain("example.com") == Domain("example.com", "")
    with pytest.raises(ValueError, match="is not a domain name"):
        parse_domain("localhost")
    with pytest.raises(ValueError, match="is not a domain name"):
        parse_mx("localhost")
