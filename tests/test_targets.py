import ipaddress
from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from check_dnsbl import publicsuffix
from check_dnsbl.model import Domain, HostName, MxOf, Outbound
from check_dnsbl.publicsuffix import SuffixList
from check_dnsbl.targets import parse_domain, parse_host, parse_mx
from check_dnsbl.wire import A, question


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
    ],
)
def test_bad_hosts(text: str, limit: int, message: str) -> None:
    with pytest.raises(ValueError, match=r".") as info:
        parse_host(text, limit)
    assert message in str(info.value)


@pytest.fixture(scope="module")
def psl() -> SuffixList:
    return publicsuffix.load()


def test_domain_keeps_the_name_given(psl: SuffixList) -> None:
    assert parse_domain("Mail.Example.com", psl) == Domain("example.com", "mail.example.com")
    assert parse_domain("example.com.", psl) == Domain("example.com", "")
    assert parse_domain("foo.github.io", psl) == Domain("foo.github.io", "")
    assert parse_domain("www.city.kawasaki.jp", psl) == Domain(
        "city.kawasaki.jp", "www.city.kawasaki.jp"
    )
    assert parse_domain("_dmarc.example.org", psl) == Domain("example.org", "_dmarc.example.org")


# --- internationalised names ------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "domain"),
    [
        ("bücher.de", Domain("xn--bcher-kva.de", "bücher.de")),
        ("www.BÜCHER.de.", Domain("xn--bcher-kva.de", "www.bücher.de")),
        ("\uff22ÜCHER\u3002de", Domain("xn--bcher-kva.de", "bücher.de")),  # full-width B and dot
        ("xn--bcher-kva.de", Domain("xn--bcher-kva.de", "")),  # an A-label stays as given
        ("XN--BCHER-KVA.DE", Domain("xn--bcher-kva.de", "")),
        # IDNA 2008: ß is a letter of its own (IDNA 2003 made it "ss": strasse.de)
        ("straße.de", Domain("xn--strae-oqa.de", "straße.de")),
        ("www.пример.рф", Domain("xn--e1afmkfd.xn--p1ai", "www.пример.рф")),
        ("mail.例え.公司.cn", Domain("xn--r8jz45g.xn--55qx5d.cn", "mail.例え.公司.cn")),
    ],
)
def test_idns_are_asked_as_a_labels_and_shown_as_given(
    psl: SuffixList, given: str, domain: Domain
) -> None:
    assert parse_domain(given, psl) == domain


def test_idns_for_hosts_and_mx() -> None:
    assert parse_host("mail.bücher.de", 256) == (
        HostName("mail.xn--bcher-kva.de", "mail.bücher.de"),
    )
    assert parse_host("mail.bücher.de", 256) == parse_host("mail.xn--bcher-kva.de", 256)
    assert parse_mx("Straße.de") == MxOf("xn--strae-oqa.de", "straße.de")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("xn--zz.com", "'xn--zz.com' is not a domain name: 'xn--zz' is not a valid IDNA 2008 "
                       "A-label"),
        ("xn--abc-.com", "'xn--abc-.com' is not a domain name: 'xn--abc-' is not a valid IDNA "
                         "2008 A-label"),
        ("💩.la", "'💩.la' is not a domain name: '💩' is not a valid IDNA 2008 label: Codepoint "
                  "U+1F4A9 at position 1 of '💩' not allowed"),
        ("a\u200d.com", "'a\\u200d.com' is not a domain name: 'a\\u200d' is not a valid IDNA "
                         "2008 label: Joiner U+200D not allowed at position 2 in 'a\\u200d'"),
    ],
)  # fmt: skip
def test_invalid_idns_are_refused(psl: SuffixList, given: str, message: str) -> None:
    given = given.encode().decode("unicode-escape") if "\\u" in given else given
    with pytest.raises(ValueError) as info:
        parse_domain(given, psl)
    assert str(info.value) == message


# --- what an admin pastes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "domain"),
    [
        ("https://www.Example.co.uk:8443/path?q=1", Domain("example.co.uk", "www.example.co.uk")),
        ("postmaster@example.com", Domain("example.com", "")),
        ("mailto:abuse@mail.example.org", Domain("example.org", "mail.example.org")),
        ("mail.example.com:25", Domain("example.com", "mail.example.com")),
        ("http://bücher.de/", Domain("xn--bcher-kva.de", "bücher.de")),
    ],
)
def test_urls_e_mail_and_ports_give_their_domain(
    psl: SuffixList, given: str, domain: Domain
) -> None:
    assert parse_domain(given, psl) == domain


def test_urls_and_ports_give_their_host() -> None:
    assert parse_host("smtp://mail.example.com:587", 256) == (HostName("mail.example.com"),)
    assert parse_host("mail.example.com:25", 256) == (HostName("mail.example.com"),)
    assert parse_host("[2001:db8::25]:25", 256) == (ipaddress.ip_address("2001:db8::25"),)
    assert parse_host("[2001:db8::25]", 256) == (ipaddress.ip_address("2001:db8::25"),)
    assert parse_host("192.0.2.1:25", 256) == (ipaddress.ip_address("192.0.2.1"),)
    assert parse_mx("postmaster@Example.com") == MxOf("example.com")


@pytest.mark.parametrize(
    ("parse", "given", "message"),
    [
        ("-d", "192.0.2.1", "'192.0.2.1' is an IP address: -d takes a domain; check addresses "
                            "with -H"),
        ("-d", "2001:db8::1", "'2001:db8::1' is an IP address: -d takes a domain; check "
                              "addresses with -H"),
        ("-d", "192.0.2.0/24", "'192.0.2.0/24' is a network: -d takes a domain; check addresses "
                               "with -H"),
        ("-d", "postmaster@[192.0.2.1]", "'postmaster@[192.0.2.1]' is an IP address: -d takes a "
                                         "domain; check addresses with -H"),
        ("--mx", "192.0.2.1", "'192.0.2.1' is an IP address: --mx takes a domain; check "
                              "addresses with -H"),
        ("-H", "postmaster@example.com", "'postmaster@example.com' is an e-mail address; -H "
                                         "takes a host: check the mail servers of example.com "
                                         "with --mx example.com"),
        ("-d", "co.uk", "'co.uk' is a public suffix (Public Suffix List): nobody's domain; give "
                        "a domain registered under it, such as example.co.uk"),
        ("-d", "k12.ca.us", "'k12.ca.us' is a public suffix (Public Suffix List): nobody's "
                            "domain; give a domain registered under it, such as "
                            "example.k12.ca.us"),
        ("-d", "localhost", "'localhost' is not a domain name: it has one label"),
        ("--mx", "localhost", "'localhost' is not a domain name: it has one label"),
        ("-d", "a..example", "'a..example' is not a domain name: it has an empty label"),
        ("-d", "1.2.3", "'1.2.3' is not a domain name: its last label is all digits"),
        ("-H", "1.2.3", "'1.2.3' is not an IP address or host name: its last label is all "
                        "digits"),
        ("-H", "300.1.1.1", "'300.1.1.1' is not an IP address or host name: its last label is "
                            "all digits"),
        ("-H", "a b", "'a b' is not an IP address or host name: the label 'a b' is not letters, "
                      "digits, underscores and inner hyphens"),
        ("-d", "-a.example", "'-a.example' is not a domain name: the label '-a' is not letters, "
                             "digits, underscores and inner hyphens"),
        ("-d", "http://[::1/x", "'http://[::1/x' is a URL without a valid host"),
        ("-d", "file:///etc/passwd", "'file:///etc/passwd' is a URL without a valid host"),
    ],
)  # fmt: skip
def test_usage_messages_say_what_to_give(
    psl: SuffixList, parse: str, given: str, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        if parse == "-d":
            parse_domain(given, psl)
        elif parse == "--mx":
            parse_mx(given)
        else:
            parse_host(given, 256)
    assert str(info.value) == message


def test_length_limits_are_named(psl: SuffixList) -> None:
    label = "a" * 64
    with pytest.raises(ValueError) as info:
        parse_domain(f"{label}.example", psl)
    assert str(info.value) == (
        f"'{label}.example' is not a domain name: the label aaaaaaaaaaaaaaaaaaaa... has 64 "
        "characters (at most 63)"
    )
    name = ".".join(["a" * 63] * 4)  # 255 characters
    with pytest.raises(ValueError) as info:
        parse_host(name, 256)
    assert str(info.value).endswith(": it has 255 characters as A-labels; a name has at most 253")
    # an IDN's A-label is longer than its Unicode: 60 letters ü make one of 66
    with pytest.raises(ValueError, match=r"has 66 characters \(at most 63\)$"):
        parse_mx("ü" * 60 + ".example")
    assert parse_host(".".join(["a" * 63] * 3 + ["a" * 61]), 256)  # 253: the most there is
    with pytest.raises(ValueError) as info:
        parse_domain("ü" * 100_000, psl)
    assert str(info.value) == (
        f"'{'ü' * 60}...' is not a domain name: it has 100000 characters; a name has at most 253"
    )


# --- whatever is typed ---------------------------------------------------------------

#: Names as they come, good and bad: IDN letters, dots of other scripts,
#: punycode prefixes, ports, at-signs, brackets, schemes, joiners, controls.
NAMELIKE = st.lists(
    st.text(alphabet="aZ9-_ßüÖ日本。\uff0exn-:@[]/\u200d\x00 \u0663", max_size=70), max_size=6
).map(".".join)


@given(st.one_of(NAMELIKE, st.text(max_size=300)))
@example("xn--zz.com")
@example("a" * 63 + "." + "ü" * 60 + ".de")
@example("https://[::1]:99999/")
def test_any_text_gives_names_the_dns_can_ask_or_one_line(text: str) -> None:
    """Every name a target holds is what a query can carry (ASCII, labels of
    1 to 63, at most 253); anything else is a ValueError of one line."""
    suffixes = _PSL.setdefault("psl", publicsuffix.load())
    parsers: list[Callable[[str], object]] = [
        lambda t: parse_host(t, 256),
        parse_mx,
        lambda t: parse_domain(t, suffixes),
    ]
    for parse in parsers:
        try:
            found = parse(text)
        except ValueError as exc:
            assert str(exc) and not any(c in str(exc) for c in "\n\r"), repr(exc)
            continue
        for target in found if isinstance(found, tuple) else (found,):
            name = getattr(target, "name", None) or getattr(target, "domain", None)
            if isinstance(name, str):
                assert name.isascii() and name == name.lower(), name
                question(name, A)  # raises for an empty or long label, a long name


_PSL: dict[str, SuffixList] = {}
