"""Targets: what -H, --mx and -d name, parsed from their text. Pure: the
names are resolved later, by ``subjects``; the Public Suffix List is handed in.

``-H`` takes an address, a network (every address, up to a limit), a host
name (every A and AAAA) or ``outbound`` (this host's public addresses, see
``outbound``); ``--mx`` every address of every MX host of a domain; ``-d`` a
domain for the domain lists, which judge its registrable domain.

Names are what the admin has at hand. A URL or ``host:port`` gives its host;
an e-mail address gives its domain to -d and --mx, and -H says to use those.
An internationalised name is mapped as UTS #46 says for user input and
converted with IDNA 2008 (``straße.de`` stays itself: IDNA 2003, dnspython
2.3's default, made it ``strasse.de``, another domain); the lists are asked
the A-labels, the output shows the name as given. An A-label must be valid
IDNA 2008 (``xn--zz`` is not). ASCII labels may hold underscores, as DNS
names do (``_dmarc``); ``idna`` is imported only for a name that needs it.
"""

import ipaddress
import re
import urllib.parse

from check_dnsbl.model import Domain, HostName, MxOf, Outbound, Target
from check_dnsbl.publicsuffix import PublicSuffix, SuffixList
from check_dnsbl.querynames import canonical

#: The most addresses one run may check, whatever --max-addresses says: a
#: /20 across the default lists is already some 33,000 queries.
HARD_MAX_ADDRESSES = 4096
#: RFC 1035 §2.3.4 (255 octets on the wire: 253 characters written out).
MAX_NAME, MAX_LABEL = 253, 63
#: IPv4-mapped IPv6 (RFC 4291 §2.5.5.2): the same addresses as IPv4.
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?")
_HOST_PORT = re.compile(r"(?:\[(?P<v6>[^]]*)\]|(?P<host>[^:]*)):\d{1,5}")


def _quoted(text: str) -> str:
    """The text in quotes, shortened: a message is one line."""
    return repr(text if len(text) <= 80 else text[:60] + "...")


def _host_of(text: str) -> tuple[str, str]:
    """The host of a URL or ``host:port``, the domain of an e-mail address,
    or the text itself; with what it was: "url", "e-mail" or ""."""
    if "://" in text:
        try:
            host = urllib.parse.urlsplit(text).hostname
        except ValueError:
            host = None
        if not host:
            raise ValueError(f"{_quoted(text)} is a URL without a valid host")
        return host, "url"
    if "@" in text:
        return text.rpartition("@")[2].strip("[]"), "e-mail"
    if text.startswith("[") and text.endswith("]"):
        return text[1:-1], "[address]"
    port = _HOST_PORT.fullmatch(text)
    if port:
        return port["v6"] or port["host"], "host:port"
    return text, ""


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return canonical(ipaddress.ip_address(text))
    except ValueError:
        return None


def _label(label: str) -> str:
    """One label's A-label; ValueError saying what is wrong with it."""
    if label.isascii():
        label = _short(label.lower())
        if label.startswith("xn--"):
            import idna

            try:
                idna.ulabel(label)
            except idna.IDNAError:
                raise ValueError(f"{label!r} is not a valid IDNA 2008 A-label") from None
        elif not _LABEL.fullmatch(label):
            raise ValueError(
                f"the label {label!r} is not letters, digits, underscores and inner hyphens"
            )
        return label
    import idna

    _short("xn--" + label.encode("punycode").decode("ascii"))  # before idna's "Label too long"
    try:
        return idna.alabel(label).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"{label!r} is not a valid IDNA 2008 label: {exc}") from None


def _short(label: str) -> str:
    if len(label) > MAX_LABEL:
        raise ValueError(f"the label {label[:20]}... has {len(label)} characters (at most 63)")
    return label


def _name(text: str) -> tuple[str, str]:
    """A host or domain name -> (its A-labels, as the admin wrote it); the
    name is lower-cased and without its final dot. ValueError with the why."""
    shown = text.removesuffix(".")
    if len(shown) > 4 * MAX_NAME:  # no IDNA on a megabyte: no name is that long
        raise ValueError(f"it has {len(shown)} characters; a name has at most {MAX_NAME}")
    if not shown.isascii():
        import idna

        try:
            shown = idna.uts46_remap(shown, std3_rules=False, transitional=False)
        except idna.IDNAError as exc:
            raise ValueError(f"it is not a valid internationalised name: {exc}") from None
    shown = shown.lower()
    if not shown or any(not label for label in shown.split(".")):
        raise ValueError("it has an empty label")
    name = ".".join(_label(label) for label in shown.split("."))
    if len(name) > MAX_NAME:
        raise ValueError(f"it has {len(name)} characters as A-labels; a name has at most 253")
    return name, shown


def _not_a_name(text: str, why: str) -> ValueError:
    return ValueError(f"{_quoted(text)} is not an IP address or host name: {why}")


def parse_host(text: str, max_addresses: int) -> tuple[Target, ...]:
    """A ``-H`` value; ValueError with a one-line message otherwise."""
    text = text.strip()
    if text.lower() == "outbound":
        return (Outbound(),)
    address = _address(text)
    if address is not None:
        return (address,)
    if "/" in text and "://" not in text:
        return _network(text, max_addresses)
    host, form = _host_of(text)
    if form == "e-mail":
        raise ValueError(
            f"{_quoted(text)} is an e-mail address; -H takes a host: check the mail servers of "
            f"{host} with --mx {host}"
        )
    address = _address(host)
    if address is not None:
        return (address,)
    try:
        name, shown = _name(host)
    except ValueError as exc:
        raise _not_a_name(text, str(exc)) from None
    if name.rpartition(".")[2].isdigit():
        raise _not_a_name(text, "its last label is all digits")
    return (HostName(name, shown if shown != name else ""),)


def _network_or_none(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _network(text: str, max_addresses: int) -> tuple[Target, ...]:
    network = _network_or_none(text)
    if network is None:
        raise ValueError(f"{_quoted(text)} is not a network (ADDRESS/PREFIX)")
    if network.num_addresses > max_addresses:
        raise ValueError(
            f"{text} has {network.num_addresses} addresses; the limit is {max_addresses} "
            f"(--max-addresses, at most {HARD_MAX_ADDRESSES})"
        )
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        network = ipaddress.IPv4Network(
            (int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96)
        )
    return tuple(network) if network.num_addresses > 1 else (network.network_address,)


def _domain_name(text: str, option: str) -> tuple[str, str]:
    """A -d or --mx value -> (A-labels, as written); addresses and networks
    are told to go to -H."""
    text = text.strip()
    host, _ = _host_of(text)
    if _address(host) is not None or _network_or_none(text) is not None:
        what = "an IP address" if _address(host) else "a network"
        raise ValueError(
            f"{_quoted(text)} is {what}: {option} takes a domain; check addresses with -H"
        )
    try:
        name, shown = _name(host)
    except ValueError as exc:
        raise ValueError(f"{_quoted(text)} is not a domain name: {exc}") from None
    if "." not in name:
        raise ValueError(f"{_quoted(text)} is not a domain name: it has one label")
    if name.rpartition(".")[2].isdigit():
        raise ValueError(f"{_quoted(text)} is not a domain name: its last label is all digits")
    return name, shown


def parse_domain(text: str, suffixes: SuffixList) -> Domain:
    """A ``-d`` value: the lists are asked about its registrable domain (the
    Public Suffix List's), the output shows it as given."""
    name, shown = _domain_name(text, "-d")
    try:
        domain = suffixes.registrable(name)
    except PublicSuffix:
        raise ValueError(
            f"{_quoted(shown)} is a public suffix (Public Suffix List): nobody's domain; give a "
            f"domain registered under it, such as example.{shown}"
        ) from None
    return Domain(domain, shown if shown != domain else "")


def parse_mx(text: str) -> MxOf:
    """An ``--mx`` value: a domain whose MX hosts are checked."""
    name, shown = _domain_name(text, "--mx")
    return MxOf(name, shown if shown != name else "")
