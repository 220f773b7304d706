"""The README is the front door: what it states must be what the code does.

The option table is generated (`make readme`); the defaults it states in prose,
the default set of lists, the query arithmetic, the dead-list state and the
bench time are read back from the README and checked against the code.
"""

import re
import sys

from check_dnsbl.catalog import Catalog
from check_dnsbl.options import build_parser
from check_dnsbl.targets import HARD_MAX_ADDRESSES
from tests.conftest import ROOT, check_dnsbl
from tests.dnsworld import DnsWorld, Zone

sys.path.insert(0, str(ROOT / "tools"))

import readme

TEXT = readme.README.read_text(encoding="utf-8")
#: "`zone`, `zone` and `zone` (normal)": the zones before a severity in parentheses.
ZONES_THEN_SEVERITY = r"((?:`[^`]+`[^`(]*)+)\((?:severity )?(critical|normal|info)\)"


def section(title: str) -> str:
    """The README's ``## title`` section, up to the next one."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", TEXT + "\n## ", re.M | re.S)
    assert match, title
    return " ".join(match.group(1).split())  # the prose as one line: wrapping is not content


def claim(pattern: str, text: str = TEXT) -> tuple[str, ...]:
    """The groups of the one place ``pattern`` matches (whitespace-insensitive)."""
    found = re.findall(pattern, " ".join(text.split()))
    assert len(found) == 1, f"{pattern!r} found {len(found)} times"
    return found[0] if isinstance(found[0], tuple) else (found[0],)


def test_option_table_matches_the_parser() -> None:
    assert readme.render(TEXT) == TEXT, "run `make readme`"
    assert "| `--extra-opts` `[section][@file]` | reads options from an ini file" in TEXT


def test_stated_defaults_are_the_parsers() -> None:
    d = vars(build_parser().parse_args([]))
    assert claim(r"`-w (\d+) -c (\d+)` \(the defaults\)") == (
        str(d["warning"]),
        str(d["critical"]),
    )
    assert claim(r"`--max-addresses` \(default (\d+), at most (\d+)\) caps") == (
        str(d["max_addresses"]),
        str(HARD_MAX_ADDRESSES),
    )
    assert claim(r"at least `--errors-warning` lists \(default (\d+)\)") == (
        str(d["errors_warning"]),
    )
    assert claim(r"`--query-timeout (\d+)`, `--retries (\d+)` and `--workers (\d+)`") == (
        f"{d['query_timeout']:g}",
        str(d["retries"]),
        str(d["workers"]),
    )
    assert claim(r"well inside `-t (\d+)`") == (f"{d['timeout']:g}",)


def test_default_set_is_the_catalogs() -> None:
    catalog = Catalog.load()
    ip, domain = catalog.defaults("ip"), catalog.defaults("domain")
    lists = section("Lists")
    bullet = claim(r"\*\*Default set\*\* (.*?) - \*\*Known", lists)[0]
    assert claim(r"(\d+) operating lists", bullet) == (str(len(ip) + len(domain)),)
    assert claim(r"the (\d+) IP lists", bullet) == (str(len(ip)),)
    assert claim(r"the (\d+) domain lists", bullet) == (str(len(domain)),)
    # Each zone named with the severity the catalog gives it: `zone` ... (severity).
    named = {}
    for group, severity in re.findall(
        r"((?:`[^`]+`[^`(]*)+)\((?:severity )?(critical|normal|info)\)", bullet
    ):
        named.update(dict.fromkeys(re.findall(r"`([a-z0-9.-]+\.[a-z]+)`", group), severity))
    assert named == {lst.zone: lst.severity for lst in (*ip, *domain)}
    # The query arithmetic: one query per list, two self-tests per list and family.
    n = len(ip)
    assert claim(r"The default set \((\d+) IP lists\)") == (str(n),)
    assert claim(r"one IPv4 address is (\d+) \+ (\d+) = (\d+) queries") == (
        str(n),
        str(2 * n),
        str(3 * n),
    )
    assert claim(r"a /24 is 256 \u00d7 (\d+) \+ (\d+) = ([\d,]+)") == (
        str(n),
        str(2 * n),
        f"{256 * n + 2 * n:,}",
    )


def test_dead_list_state_is_as_stated() -> None:
    """Lists: a dead list is a WARNING beside lists that answer, UNKNOWN alone."""
    bullet = claim(r"\*\*Dead\*\* \((.*?)\):", section("Lists"))[0]
    assert "a WARNING beside lists that answer" in bullet and "UNKNOWN alone" in bullet
    dead = ["-H", "192.0.2.1", "-s", "dnsbl.sorbs.net"]
    alone = check_dnsbl(*dead, "-n", "127.0.0.1:9")  # never asked: no resolver needed
    assert (alone.returncode, alone.first_line) == (
        3,
        "DNSBL UNKNOWN - no usable answer from any list for 192.0.2.1: dead list: "
        "SORBS was shut down on 5 June 2024; remove it",
    )
    with DnsWorld([Zone("zen.spamhaus.org", ip4=("127.0.0.2",))]) as world:
        beside = check_dnsbl(*dead, "-s", "zen.spamhaus.org", "-n", world.resolver)
    assert beside.returncode == 1
    assert beside.first_line.startswith("DNSBL WARNING - 192.0.2.1 not listed on 1 of 2 lists")


def test_bench_time_is_one_figure() -> None:
    """The README, the Makefile and bench/README.md (the bench's own account)
    give the same run time for `make bench` and for --quick."""
    readme_min = claim(r"`make bench` \(source in `bench/`, about (\d+) minutes as root\)")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    make_min = claim(
        r"Takes about (\d+) minutes; BENCH_ARGS=--quick for about ([\d.]+)\.", makefile
    )
    bench = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    assert readme_min[0] == make_min[0] == claim(r"make bench # as root; ~(\d+) minutes", bench)[0]
    assert make_min[1] == claim(r"--quick .*?: ~([\d.]+) min", bench)[0]
