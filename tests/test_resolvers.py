from pathlib import Path

import pytest

from check_dnsbl.model import Resolver
from check_dnsbl.resolvers import parse_resolver, system_resolvers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", Resolver("127.0.0.1", 53)),
        ("127.0.0.1:5353", Resolver("127.0.0.1", 5353)),
        ("::1", Resolver("::1", 53)),
        ("[::1]:5353", Resolver("::1", 5353)),
        ("[2001:db8::1]", Resolver("2001:db8::1", 53)),
    ],
)
def test_resolver_forms(text: str, expected: Resolver) -> None:
    assert parse_resolver(text) == expected


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("dns.google", "'dns.google' is not an IP address (ADDR[:PORT] or [IPv6]:PORT)"),
        ("1.2.3.4:0", "'1.2.3.4:0': port must be 1-65535"),
        ("1.2.3.4:99999", "'1.2.3.4:99999': port must be 1-65535"),
        ("[::1", "'[::1': use [IPv6]:PORT"),
        ("[::1]x", "'[::1]x': use [IPv6]:PORT"),
    ],
)
def test_bad_resolvers(bad: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_resolver(bad)
    assert str(raised.value) == message


def test_resolver_text_form() -> None:
    assert (str(Resolver("::1", 53)), str(Resolver("127.0.0.1", 53))) == (
        "[::1]:53",
        "127.0.0.1:53",
    )


def test_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search x\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\nnameserver junk\n")
    assert system_resolvers(conf) == (Resolver("10.0.0.1"), Resolver("fe80::1"))
    assert system_resolvers(tmp_path / "missing") == (Resolver("127.0.0.1"),)
