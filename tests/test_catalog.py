import ipaddress

import pytest

from check_dnsbl.catalog import Catalog, CatalogError, normalize_zone, parse_lists

CATALOG = Catalog.load()


def test_default_set_holds_the_two_lists_of_the_story_as_critical() -> None:
    defaults = {lst.zone: lst for lst in CATALOG.defaults("ip")}
    assert defaults["zen.spamhaus.org"].severity == "critical"
    assert defaults["b.barracudacentral.org"].severity == "critical"
    assert not any(lst.dead for lst in defaults.values())


def test_zen_decodes_sbl_css_xbl_pbl() -> None:
    tags = {
        c: decoded("zen.spamhaus.org", c)[0]
        for c in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.10", "127.0.0.11")
    }
    assert tags == {
        "127.0.0.2": "SBL",
        "127.0.0.3": "CSS",
        "127.0.0.4": "XBL",
        "127.0.0.10": "PBL",
        "127.0.0.11": "PBL",
    }


@pytest.mark.parametrize("zone", ["dnsbl.sorbs.net", "spam.dnsbl.sorbs.net", "dnsbl.njabl.org"])
def test_dead_zones_and_zones_below_them_are_dead(zone: str) -> None:
    assert CATALOG.get(zone).dead


def test_unknown_zone_gets_a_plain_entry() -> None:
    lst = CATALOG.get("bl.example.net")
    assert (lst.zone, lst.severity, lst.ipv6, lst.dead, lst.codes) == (
        "bl.example.net",
        "normal",
        None,
        "",
        (),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[list]]\nzone = "a.test"\nseverity = "high"', "severity must be one of"),
        ('[[list]]\nzone = "a.test"\ncolour = 1', "unknown field 'colour'"),
        ('[[list]]\nzone = "a.test"\n[list.codes]\n"127.0.0.2" = "x"', "must be [tag, meaning]"),
        ('[[list]]\nzone = "a.test"\n[list.errors]\n"1.2.3" = "x"', "is not an IPv4 address"),
        ('[[list]]\nname = "x"', "missing 'zone'"),
        ("list = 3", "no [[list]] entries"),
        ('list = [1, "a"]', "list #1: must be a table ([[list]])"),
        ("[[list]\n", "not valid TOML"),
    ],
)
def test_bad_list_definitions_give_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(CatalogError, match=None) as info:
        parse_lists(text, "f.toml")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_lists_file_entries_default_to_the_run() -> None:
    (lst,) = parse_lists('[[list]]\nzone = "My.List.Test."', "f.toml", default=True)
    assert (lst.zone, lst.default) == ("my.list.test", True)


@pytest.mark.parametrize("bad", ["", "nodot", "a..b", "-a.b", "a b.c", "x" * 64 + ".test"])
def test_bad_zone_names(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a DNS zone name"):
        normalize_zone(bad)


# --- what each code means, and how severe it is (issue 11) -------------------


def decoded(zone: str, answer: str) -> tuple[str, str | None]:
    """(tag, severity) of one answer on one catalog list."""
    code = CATALOG.get(zone).decode(ipaddress.IPv4Address(answer))
    assert code is not None, (zone, answer)
    return code.tag, code.severity


@pytest.mark.parametrize(
    ("zone", "answer", "tag", "severity"),
    [
        ("dbl.spamhaus.org", "127.0.1.2", "spam", "critical"),
        ("dbl.spamhaus.org", "127.0.1.103", "abused redirector", "info"),
        ("multi.uribl.com", "127.0.0.2", "black", "normal"),
        ("multi.uribl.com", "127.0.0.4", "grey", "info"),
        ("multi.uribl.com", "127.0.0.12", "grey+red", "info"),
        ("multi.uribl.com", "127.0.0.14", "black+grey+red", "normal"),  # the worst bit decides
        ("multi.surbl.org", "127.0.0.36", "DM+CT", "info"),
        ("multi.surbl.org", "127.0.0.40", "PH+CT", "normal"),
        ("zen.spamhaus.org", "127.0.0.5", "XBL", "critical"),
        ("zen.spamhaus.org", "127.0.0.7", "XBL", "critical"),
        ("zen.spamhaus.org", "127.0.0.10", "PBL", "critical"),
        ("bl.mailspike.net", "127.0.0.12", "L3", "normal"),
        ("bl.mailspike.net", "127.0.0.13", "L2", "info"),
        ("bl.score.senderscore.com", "127.0.0.1", "botnet", "normal"),
        ("bl.score.senderscore.com", "127.0.0.2", "noauth", "info"),
        ("bl.score.senderscore.com", "127.0.0.3", "botnet+noauth", "normal"),
        ("list.dnswl.org", "127.0.15.1", "trusted (low)", "normal"),
        ("list.dnswl.org", "127.0.10.0", "trusted (none)", "normal"),
        ("list.dnswl.org", "127.0.20.3", "trusted (high)", "normal"),  # unknown category
    ],
)
def test_each_code_has_its_meaning_and_severity(
    zone: str, answer: str, tag: str, severity: str
) -> None:
    assert decoded(zone, answer) == (tag, severity)


def test_dnswl_decodes_category_and_trust_level() -> None:
    code = CATALOG.get("list.dnswl.org").decode(ipaddress.IPv4Address("127.0.15.1"))
    assert code is not None
    assert code.meaning == (
        "category 15: email marketing providers; trust low: reduce the chance of false positives"
    )


@pytest.mark.parametrize(
    ("zone", "answer", "error"),
    [
        ("multi.surbl.org", "127.0.0.1", "query refused: blocked by SURBL"),
        ("multi.surbl.org", "127.0.0.3", "query refused: blocked by SURBL"),  # bit 1 + bit 2
        ("multi.uribl.com", "127.0.0.15", "query refused (see https://uribl.com/refused"),
        ("list.dnswl.org", "127.0.0.255", "rate limited: DNSWL blocked this resolver"),
        ("bl.score.senderscore.com", "127.255.255.255", "refused: resolver not registered"),
        ("zen.spamhaus.org", "127.255.255.255", "rate limited: excessive number of queries"),
        ("zen.spamhaus.org", "127.255.255.254", "query refused: public/open resolver"),
    ],
)
def test_error_codes_and_error_bits(zone: str, answer: str, error: str) -> None:
    found = CATALOG.get(zone).error(ipaddress.IPv4Address(answer))
    assert found is not None and found.startswith(error), found
    assert CATALOG.get(zone).error(ipaddress.IPv4Address("127.0.0.2")) is None


def test_allowlists_and_reputation_zones_are_their_own_kind() -> None:
    roles = {z: CATALOG.get(z).role for z in ("list.dnswl.org", "wl.mailspike.net")}
    assert roles == {"list.dnswl.org": "allowlist", "wl.mailspike.net": "allowlist"}
    assert CATALOG.get("rep.mailspike.net").role == "reputation"
    assert CATALOG.get("zen.spamhaus.org").blocks
    assert not any(CATALOG.get(z).blocks for z in roles)
    assert not any(lst.role != "blocklist" for lst in CATALOG.defaults("ip"))


def test_new_lists_are_known_and_not_default() -> None:
    sem6 = CATALOG.get("bl.ipv6.spameatingmonkey.net")
    assert (sem6.ipv4, sem6.ipv6, sem6.default) == (False, True, False)
    for zone in ("bip.virusfree.cz", "bl.score.senderscore.com"):
        assert CATALOG.get(zone).name and not CATALOG.get(zone).default


def test_every_code_table_says_where_it_comes_from() -> None:
    tabled = [lst for lst in CATALOG.lists.values() if lst.documented or lst.errors]
    assert len(tabled) >= 20  # the filter finds the tables
    assert [lst.zone for lst in tabled if not lst.source] == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('role = "whitelist"', "role must be one of blocklist, allowlist, reputation"),
        ('role = "allowlist"\nseverity = "info"', "an allowlist's hits are never listings"),
        ('ipv4 = "no"', "ipv4 must be true or false"),
        ("ipv4 = false", "ipv4 = false (IPv6 only) needs ipv6 = true"),
        ('[list.codes]\n"127.0.0.2" = ["X", "x", "high"]', "severity must be one of"),
        ('[list.bitmask]\n"3" = ["X", "x"]', "bitmask key '3' must be a bit value"),
        ('[list.error_bits]\n"1" = ["X", "x"]', "an error bit's meaning must be a string"),
        ('[list.last_octet]\n"256" = ["X", "x"]', "last_octet key '256' must be 0..255"),
        ('codes = "x"', "codes must be a table ([list.codes])"),
        ("error_bits = 3", "error_bits must be a table ([list.error_bits])"),
        ('last_octet = ["a"]', "last_octet must be a table ([list.last_octet])"),
    ],
)
def test_bad_semantics_give_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(CatalogError) as info:
        parse_lists(f'[[list]]\nzone = "a.test"\n{text}', "f.toml")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_lists_file_can_define_an_allowlist_and_code_severities() -> None:
    allow, block = parse_lists(
        '[[list]]\nzone = "wl.example.test"\nrole = "allowlist"\n'
        '[list.codes]\n"127.0.0.2" = ["good", "known good sender"]\n'
        '[[list]]\nzone = "bl.example.test"\nseverity = "critical"\n'
        '[list.codes]\n"127.0.0.2" = ["spam", "spam source"]\n'
        '"127.0.0.3" = ["policy", "policy listing", "info"]\n'
        '[list.error_bits]\n"1" = "refused"\n',
        "f.toml",
    )
    assert (allow.role, allow.blocks, block.role) == ("allowlist", False, "blocklist")
    codes = {c: block.severity_of(ipaddress.IPv4Address(c)) for c in ("127.0.0.2", "127.0.0.3")}
    assert codes == {"127.0.0.2": "critical", "127.0.0.3": "info"}
    assert block.severity_of(ipaddress.IPv4Address("127.0.0.8")) == "critical"  # unknown: list's
    assert block.error(ipaddress.IPv4Address("127.0.0.5")) == "refused"
