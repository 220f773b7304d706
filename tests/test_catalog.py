import pytest

from check_dnsbl.catalog import Catalog, CatalogError, normalize_zone, parse_lists

CATALOG = Catalog.load()


def test_default_set_holds_the_two_lists_of_the_story_as_critical() -> None:
    defaults = {lst.zone: lst for lst in CATALOG.defaults("ip")}
    assert defaults["zen.spamhaus.org"].severity == "critical"
    assert defaults["b.barracudacentral.org"].severity == "critical"
    assert not any(lst.dead for lst in defaults.values())


def test_zen_decodes_sbl_css_xbl_pbl() -> None:
    import ipaddress

    zen = CATALOG.get("zen.spamhaus.org")
    tags = {
        c: zen.decode(ipaddress.IPv4Address(c)).tag
        for c in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.10", "127.0.0.11")  # type: ignore[union-attr]
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
