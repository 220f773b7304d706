"""Query names for IP-based DNSBLs (RFC 5782 §2.1, §2.4, §5). Pure functions.

dnspython's ``reversename`` maps IPv4-mapped IPv6 addresses to in-addr.arpa
names, which breaks the IPv6 self-test entries, so the nibbles are built here.
"""

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: RFC 5782 §5: (must be listed, must not be listed) per address family.
TEST_ENTRIES: dict[int, tuple[IPAddress, IPAddress]] = {
    4: (ipaddress.IPv4Address("127.0.0.2"), ipaddress.IPv4Address("127.0.0.1")),
    6: (ipaddress.IPv6Address("::ffff:7f00:2"), ipaddress.IPv6Address("::ffff:7f00:1")),
}


def reversed_labels(address: IPAddress) -> str:
    """Reversed octets (IPv4) or 32 reversed nibbles (IPv6), dot-separated."""
    if address.version == 4:
        return ".".join(reversed(str(address).split(".")))
    return ".".join(reversed(address.exploded.replace(":", "")))


def ip_query_name(address: IPAddress, zone: str) -> str:
    """The name to look up for ``address`` on the list ``zone``."""
    return f"{reversed_labels(address)}.{zone}"
