"""Every name a list is asked (RFC 5782 §2.1, §2.4, §3, §5), the test
entries of its self-test, and how addresses read. Pure functions.

dnspython's ``reversename`` maps IPv4-mapped IPv6 addresses to in-addr.arpa
names, which breaks the IPv6 self-test entries, so the nibbles are built here.
"""

import ipaddress

from check_dnsbl.catalog import DnsblList
from check_dnsbl.model import IPAddress

#: RFC 5782 §5: (must be listed, must not be listed) per address family.
TEST_ENTRIES: dict[int, tuple[IPAddress, IPAddress]] = {
    4: (ipaddress.IPv4Address("127.0.0.2"), ipaddress.IPv4Address("127.0.0.1")),
    6: (ipaddress.IPv6Address("::ffff:7f00:2"), ipaddress.IPv6Address("::ffff:7f00:1")),
}


#: Prefixes whose addresses embed an IPv4 address, written in mixed notation
#: (RFC 5952 §5): IPv4-mapped (RFC 4291) and NAT64's well-known prefix (RFC 6052).
_EMBEDDING = {
    ipaddress.IPv6Network("::ffff:0:0/96"): "::ffff:",
    ipaddress.IPv6Network("64:ff9b::/96"): "64:ff9b::",
}


def canonical(address: IPAddress) -> IPAddress:
    """The address a list judges: an IPv4-mapped IPv6 address is its IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def show(address: IPAddress) -> str:
    """An address as an admin writes it (RFC 5952): ``2001:db8::25``, and
    ``::ffff:127.0.0.2`` rather than Python 3.11's ``::ffff:7f00:2``."""
    if isinstance(address, ipaddress.IPv6Address):
        for prefix, text in _EMBEDDING.items():
            if address in prefix:
                return text + str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return str(address)


def reversed_labels(address: IPAddress) -> str:
    """Reversed octets (IPv4) or 32 reversed nibbles (IPv6), dot-separated."""
    if address.version == 4:
        return ".".join(reversed(str(address).split(".")))
    return ".".join(reversed(address.exploded.replace(":", "")))


def ip_query_name(address: IPAddress, zone: str) -> str:
    """The name to look up for ``address`` on the list ``zone``."""
    return f"{reversed_labels(address)}.{zone}"


def domain_query_name(domain: str, zone: str) -> str:
    """The name to look up for ``domain`` on the domain list ``zone`` (RFC 5782 §3)."""
    return f"{domain}.{zone}"


def test_entries(lst: DnsblList, family: str) -> tuple[str, str]:
    """The list's (must be listed, must not be listed) test entries for
    ``family`` ("4", "6" or "domain"), as they read."""
    if family == "domain":
        return lst.test_listed, lst.test_unlisted
    listed, unlisted = TEST_ENTRIES[int(family)]
    return show(listed), show(unlisted)


def query_name(value: IPAddress | str, lst: DnsblList) -> str:
    """The name to ask ``lst`` about an address or domain (or a test entry,
    given as text)."""
    if lst.kind == "domain":
        return domain_query_name(str(value), lst.query_zone)
    address = ipaddress.ip_address(value) if isinstance(value, str) else value
    return ip_query_name(address, lst.query_zone)
