"""The evaluation and presentation stages in-process, with no network: the
Metrics a run yields (``resource.metrics``) go through the Contexts and the
Summary of ``contexts.build``, and ``render`` lays out the output. Exact
states and exact text; the subprocess tests against real DNS stay too."""

import ipaddress
from dataclasses import replace
from typing import Any

import nagiosplugin

from check_dnsbl import contexts
from check_dnsbl.catalog import Catalog, DnsblList
from check_dnsbl.history import update
from check_dnsbl.model import (
    Changes,
    Discovery,
    Findings,
    HostName,
    Reply,
    Resolver,
    SelfTest,
    Status,
    TargetReport,
    Unchecked,
    Verdict,
)
from check_dnsbl.resource import metrics
from check_dnsbl.settings import Settings
from check_dnsbl.summary import DnsblSummary, render
from check_dnsbl.verdict import classify

CATALOG = Catalog.load()
ZEN, SPAMCOP, DRONEBL = (
    CATALOG.get(z) for z in ("zen.spamhaus.org", "bl.spamcop.net", "dnsbl.dronebl.org")
)
XBL = ipaddress.IPv4Address("127.0.0.4")
NOTHING = Findings()
SETTINGS = Settings(
    targets=(ipaddress.ip_address("192.0.2.1"),),
    lists=(ZEN, SPAMCOP),
    resolvers=(Resolver("127.0.0.1"),),
)


class Fixed(nagiosplugin.Resource):
    """A Resource that yields the Metrics of a run decided by the test."""

    def __init__(self, settings: Settings, reports: tuple[TargetReport, ...], found: Findings):
        self.args = settings, reports, found

    @property
    def name(self) -> str:
        return "DNSBL"

    def probe(self) -> object:
        settings, reports, found = self.args
        return metrics(settings, reports, found, elapsed=0.25)


def run(*reports: TargetReport, found: Findings = NOTHING, **options: Any) -> str:
    """The exit code and the whole output of a run that found ``reports``."""
    settings = replace(SETTINGS, **options)
    check = nagiosplugin.Check(
        Fixed(settings, reports, found), *contexts.build(settings), DnsblSummary(settings)
    )
    check()
    return f"{check.exitcode} {render(check, settings.secrets)}"


def report(*verdicts: Verdict, target: str = "192.0.2.1") -> TargetReport:
    return TargetReport(target, "", "ip", verdicts)


def test_clean() -> None:
    assert run(report(Verdict(ZEN, Status.CLEAN), Verdict(SPAMCOP, Status.CLEAN))) == (
        "0 DNSBL OK - 192.0.2.1 not listed on 2 lists\n"
        "| errors=0;0;;0;2 listed=0;0;1;0;2 lists=2;;;0 time=0.25s;;;0\n"
    )


def test_a_critical_list_alone_is_critical_with_what_to_do() -> None:
    xbl = Verdict(ZEN, Status.LISTED, (XBL,), txt="Listed\x07 in XBL | see it")
    assert run(report(xbl, Verdict(SPAMCOP, Status.CLEAN))) == (
        "2 DNSBL CRITICAL - 192.0.2.1 listed on 1 of 2 lists: zen.spamhaus.org (XBL)\n"
        "192.0.2.1 listed on zen.spamhaus.org: 127.0.0.4 XBL: Exploits Block List: infected "
        'or exploited host (botnet, proxy, malware); reason: "Listed in XBL see it"; '
        "lookup/delist: https://check.spamhaus.org/results/?query=192.0.2.1\n"
        "| errors=0;0;;0;2 listed=1;0;1;0;2 lists=2;;;0 time=0.25s;;;0\n"
    )


def test_thresholds_are_counts_and_info_lists_never_count() -> None:
    hit = Verdict(SPAMCOP, Status.LISTED, (ipaddress.IPv4Address("127.0.0.2"),))
    drone = Verdict(DRONEBL, Status.LISTED, (ipaddress.IPv4Address("127.0.0.7"),))
    assert run(report(hit)).startswith("1 DNSBL WARNING - 192.0.2.1 listed on 1 of 1 list")
    assert run(report(hit), critical=1).startswith("2 DNSBL CRITICAL - ")
    assert run(report(drone), lists=(DRONEBL,)).startswith(
        "0 DNSBL OK - 192.0.2.1 listed on 1 of 1 list: dnsbl.dronebl.org (DDoS, info)\n"
    )


def test_unusable_lists_warn_and_never_hide_a_listing() -> None:
    refused = "query refused: public/open resolver (use DQS) (127.255.255.254)"
    out = run(
        report(Verdict(ZEN, Status.UNUSABLE, reason=refused), Verdict(SPAMCOP, Status.CLEAN))
    )
    assert out == (
        "1 DNSBL WARNING - 192.0.2.1 not listed on 1 of 2 lists; 1 unusable: "
        "zen.spamhaus.org (query refused: public/open resolver)\n"
        f"zen.spamhaus.org unusable for 192.0.2.1: {refused}\n"
        "| errors=1;0;;0;2 listed=0;0;1;0;2 lists=2;;;0 time=0.25s;;;0\n"
    )
    assert run(
        report(Verdict(ZEN, Status.UNUSABLE, reason=refused), Verdict(SPAMCOP, Status.CLEAN)),
        errors_warning=0,
    ).startswith("0 DNSBL OK - ")


def test_nothing_usable_is_unknown_with_the_reason() -> None:
    down = "resolver 127.0.0.1:53 unreachable (Connection refused)"
    out = run(report(Verdict(ZEN, Status.UNUSABLE, reason=down)), lists=(ZEN,))
    assert out.splitlines()[:2] == [
        "3 DNSBL UNKNOWN - no usable answer from any list for 192.0.2.1: "
        "resolver 127.0.0.1:53 unreachable",  # the first line has the headline; the next, all
        f"zen.spamhaus.org unusable for 192.0.2.1: {down}",
    ]


def test_a_name_that_does_not_resolve_warns_and_nothing_resolving_is_unknown() -> None:
    gone = Unchecked("b.example.com", "cannot resolve b.example.com: no such name")
    named = (HostName("a.example.com"), HostName("b.example.com"))
    listed = Verdict(SPAMCOP, Status.LISTED, (ipaddress.IPv4Address("127.0.0.2"),))
    out = run(
        TargetReport("192.0.2.1", "a.example.com", "ip", (listed,)),
        found=Findings(unchecked=(gone,)),
        targets=named,
    )
    assert out.splitlines()[:2] == [
        "1 DNSBL WARNING - 192.0.2.1 (a.example.com) listed on 1 of 1 list: bl.spamcop.net; "
        "cannot resolve b.example.com: no such name",
        "cannot resolve b.example.com: no such name",
    ]
    assert out.splitlines()[-1].endswith(" time=0.25s;;;0 unchecked=1;0;;0")
    assert run(found=Findings(unchecked=(gone,)), targets=named[1:]).splitlines()[0] == (
        "3 DNSBL UNKNOWN - cannot resolve b.example.com: no such name"
    )


def test_new_listings_only_takes_its_state_from_new_listings_alone() -> None:
    listed = Verdict(ZEN, Status.LISTED, (XBL,))
    key = "192.0.2.1 zen.spamhaus.org"
    new = Findings(changes=Changes(new={key}, since={key: 0.0}))
    only_new = {"state_file": object(), "new_listings_only": True}
    assert run(report(listed), found=Findings(), **only_new).splitlines()[0] == (
        "0 DNSBL OK - 192.0.2.1 listed on 1 of 1 list: zen.spamhaus.org (XBL)"
    )
    out = run(report(listed), found=new, **only_new, new_listing_state="warning")
    assert out.splitlines()[0] == (
        "1 DNSBL WARNING - 192.0.2.1 listed on 1 of 1 list: zen.spamhaus.org (XBL, NEW)"
    )
    # shown, never judged: no ranges on the counts the thresholds would judge
    assert out.splitlines()[-1] == (
        "| delisted=0;;;0 errors=0;;;0;1 listed=1;;;0;1 lists=1;;;0 new=1;;;0 time=0.25s;;;0"
    )


def test_verbose_levels_word_the_findings() -> None:
    entries = ("127.0.0.2", "127.0.0.1")
    test = SelfTest(
        "zen.spamhaus.org", entries, (Verdict(ZEN, Status.LISTED), Verdict(ZEN, Status.CLEAN))
    )
    found = Findings(
        self_tests=(test,),
        queries=4,
        junk=1,
        pairs=2,
        not_asked=1,
        discovery=Discovery(
            (
                (ipaddress.ip_address("192.0.2.1"), ("opendns",)),
                (ipaddress.ip_address("192.0.2.9"), ("google",)),
            ),
            (("google (2001:4860:4802:32::a)", "resolver unreachable"),),
        ),
    )
    out = run(report(Verdict(ZEN, Status.CLEAN)), found=found, lists=(ZEN,), verbosity=3)
    assert out.splitlines()[1:-1] == [
        "outbound IPv4 discovery disagrees: opendns says 192.0.2.1, google says 192.0.2.9; "
        "checking each",
        "1 of 2 (target, list) pairs not asked before the deadline (-t 15)",
        "outbound discovery failed: google (2001:4860:4802:32::a): resolver unreachable",
        "zen.spamhaus.org: 192.0.2.1 not listed",
        "self-test zen.spamhaus.org: 127.0.0.2 listed, 127.0.0.1 not listed",
        "4 queries sent to 127.0.0.1:53; 1 malformed or mismatched replies ignored",
    ]


def test_the_output_fits_8_kb_with_the_perfdata_inside() -> None:
    hit = Verdict(SPAMCOP, Status.LISTED, (ipaddress.IPv4Address("127.0.0.2"),), txt="x" * 400)
    reports = [report(hit, target=f"198.51.100.{i}") for i in range(256)]
    out = run(*reports)
    text = out.split(" ", 1)[1]
    assert len(text.encode()) <= 8192
    assert text.splitlines()[-1].startswith("| addresses=256;;;0 addresses_listed=256;;;0;256 ")
    shown = len(text.splitlines()) - 3  # the first line, the note, the perfdata
    assert 0 < shown < 256
    assert text.splitlines()[-2] == f"... {256 - shown} more lines not shown (output limit)"


# --- what the lists mean (issue 11) ----------------------------------------------

DNSWL, DBL, PSBL, SENDERSCORE = (
    CATALOG.get(z)
    for z in ("list.dnswl.org", "dbl.spamhaus.org", "psbl.surriel.com", "bl.score.senderscore.com")
)


def answered(lst: DnsblList, *codes: str) -> Verdict:
    """The verdict of ``lst`` answering ``codes``, as the Resource builds it."""
    return classify(lst, Reply("NOERROR", codes))


def test_an_allowlisted_address_is_good_news_never_a_listing() -> None:
    trusted = answered(DNSWL, "127.0.15.1")
    long = (
        "198.51.100.90 on list.dnswl.org (allowlist, never a listing): 127.0.15.1 trusted (low): "
        "category 15: email marketing providers; trust low: reduce the chance of false "
        "positives; lookup: https://www.dnswl.org/"
    )
    assert run(report(trusted, target="198.51.100.90"), lists=(DNSWL,)) == (
        "0 DNSBL OK - 198.51.100.90 on list.dnswl.org: trusted (low)\n"
        f"{long}\n"
        "| errors=0;0;;0;1 listed=0;0;1;0;0 lists=1;;;0 time=0.25s;;;0\n"
    )
    both = run(report(Verdict(ZEN, Status.CLEAN), trusted, target="198.51.100.90"))
    assert both.splitlines()[0] == (
        "0 DNSBL OK - 198.51.100.90 not listed on 1 list; on list.dnswl.org: trusted (low)"
    )
    assert both.splitlines()[-1].startswith("| errors=0;0;;0;2 listed=0;0;1;0;1 ")
    # next to a listing: the listing decides, the trust is shown after it
    out = run(report(Verdict(ZEN, Status.LISTED, (XBL,)), trusted, target="198.51.100.90"))
    assert out.splitlines()[0] == (
        "2 DNSBL CRITICAL - 198.51.100.90 listed on 1 of 1 list: zen.spamhaus.org (XBL); "
        "on list.dnswl.org: trusted (low)"
    )
    assert out.splitlines()[2] == long  # after the listing
    assert " listed=1;0;1;0;1 " in out.splitlines()[-1]


def test_no_entry_on_an_allowlist_is_no_news() -> None:
    clean = Verdict(DNSWL, Status.CLEAN)
    assert run(report(clean), lists=(DNSWL,), verbosity=1) == (
        "0 DNSBL OK - 192.0.2.1 has no entry on list.dnswl.org\n"
        "list.dnswl.org: 192.0.2.1 not listed (allowlist: no entry, which is neither good nor "
        "bad news)\n"
        "| errors=0;0;;0;1 listed=0;0;1;0;0 lists=1;;;0 time=0.25s;;;0\n"
    )
    two = [report(clean, target=f"198.51.100.{i}") for i in (1, 2)]
    assert run(*two, lists=(DNSWL,)).splitlines()[0] == (
        "0 DNSBL OK - 2 addresses have no entry on list.dnswl.org"
    )


def test_allowlist_hits_of_several_addresses_follow_the_verdict() -> None:
    out = run(
        report(Verdict(ZEN, Status.CLEAN), answered(DNSWL, "127.0.3.2"), target="198.51.100.1"),
        report(Verdict(ZEN, Status.CLEAN), Verdict(DNSWL, Status.CLEAN), target="198.51.100.2"),
    )
    assert out.splitlines()[0] == (
        "0 DNSBL OK - 2 addresses not listed on 1 list; 198.51.100.1 on list.dnswl.org: "
        "trusted (medium)"
    )


def test_a_trusted_entry_is_never_recorded_as_a_new_listing() -> None:
    state: dict[str, Any] = {}
    trusted = report(answered(DNSWL, "127.0.15.1"), answered(SPAMCOP, "127.0.0.2"))
    changes = update(state, (trusted,), now=1000.0)
    assert changes.new == {"192.0.2.1 bl.spamcop.net"}
    assert list(state["listed"]) == ["192.0.2.1 bl.spamcop.net"]


def test_an_info_code_is_shown_and_never_raises_the_state() -> None:
    redirector = TargetReport("example.com", "", "domain", (answered(DBL, "127.0.1.103"),))
    assert run(redirector, lists=(DBL,)) == (
        "0 DNSBL OK - example.com listed on 1 of 1 list: dbl.spamhaus.org "
        "(abused redirector, info)\n"
        "example.com listed on dbl.spamhaus.org: 127.0.1.103 abused redirector: abused "
        "legitimate redirector domain, spammed (informational code: never raises the state); "
        "lookup/delist: https://check.spamhaus.org/results/?query=example.com\n"
        "| errors=0;0;;0;1 listed=0;0;1;0;1 lists=1;;;0 time=0.25s;;;0\n"
    )
    spam = TargetReport("example.com", "", "domain", (answered(DBL, "127.0.1.2", "127.0.1.103"),))
    assert run(spam, lists=(DBL,)).startswith(  # the most severe code decides
        "2 DNSBL CRITICAL - example.com listed on 1 of 1 list: dbl.spamhaus.org "
        "(spam, abused redirector)\n"
    )


def test_an_undocumented_code_still_counts_as_a_listing() -> None:
    out = run(report(answered(ZEN, "127.0.0.8")), lists=(ZEN,))
    assert out.splitlines()[:2] == [
        "2 DNSBL CRITICAL - 192.0.2.1 listed on 1 of 1 list: zen.spamhaus.org "
        "(127.0.0.8 unknown code)",
        "192.0.2.1 listed on zen.spamhaus.org: 127.0.0.8 unknown code (not in the catalog's "
        "table of this list); lookup/delist: https://check.spamhaus.org/results/?query=192.0.2.1",
    ]
    reserved = run(report(answered(ZEN, "127.0.0.6")), lists=(ZEN,))
    assert reserved.splitlines()[0].endswith("listed on 1 of 1 list: zen.spamhaus.org (XBL)")


def test_pbl_stays_critical_and_says_why() -> None:
    out = run(report(answered(ZEN, "127.0.0.10")), lists=(ZEN,))
    assert out.startswith("2 DNSBL CRITICAL - 192.0.2.1 listed on 1 of 1 list: ")
    assert out.splitlines()[1].startswith(
        "192.0.2.1 listed on zen.spamhaus.org: 127.0.0.10 PBL: Policy Block List "
        "(ISP-maintained): should not send mail directly to MX; critical for a mail server's "
        "own outbound address, since receivers that use zen reject its mail; "
    )


def test_a_rate_limited_list_says_so_and_what_to_do() -> None:
    out = run(report(answered(ZEN, "127.255.255.255"), Verdict(SPAMCOP, Status.CLEAN)))
    assert out.splitlines()[:2] == [
        "1 DNSBL WARNING - 192.0.2.1 not listed on 1 of 2 lists; 1 unusable: zen.spamhaus.org "
        "(rate limited: excessive number of queries from this resolver)",
        "zen.spamhaus.org unusable for 192.0.2.1: rate limited: excessive number of queries "
        "from this resolver (what to do: query less often or fewer addresses; use a resolver "
        "of your own, not one shared with others; or a Spamhaus DQS key; see "
        "https://www.spamhaus.org/returnc/vol/) (127.255.255.255)",
    ]


def test_senderscore_lists_with_127_0_0_1() -> None:
    out = run(report(answered(SENDERSCORE, "127.0.0.1")), lists=(SENDERSCORE,))
    assert out.splitlines()[0] == (
        "1 DNSBL WARNING - 192.0.2.1 listed on 1 of 1 list: bl.score.senderscore.com (botnet)"
    )


def test_listed_is_the_worst_addresss_count_with_the_thresholds() -> None:
    """Two addresses, each on one list: -w 2 judges each address's one listing,
    and ``listed`` carries the count it judged, not the total."""
    both = (SPAMCOP, PSBL)
    first = report(answered(SPAMCOP, "127.0.0.2"), Verdict(PSBL, Status.CLEAN), target="a")
    second = report(Verdict(SPAMCOP, Status.CLEAN), answered(PSBL, "127.0.0.2"), target="b")
    out = run(first, second, lists=both, warning=2, critical=3)
    assert out.splitlines()[0] == (
        "0 DNSBL OK - 2 of 2 addresses listed: a on bl.spamcop.net; b on psbl.surriel.com"
    )
    assert out.splitlines()[-1] == (
        "| addresses=2;;;0 addresses_listed=2;;;0;2 errors=0;0;;0;2 listed=1;1;2;0;2 "
        "listed_total=2;;;0;4 lists=2;;;0 time=0.25s;;;0"
    )
    warned = run(first, second, lists=both)
    assert warned.startswith("1 DNSBL WARNING - ")
    assert " listed=1;0;1;0;2 listed_total=2;;;0;4 " in warned.splitlines()[-1]


def test_perfdata_per_list_names_the_list_and_drops_an_unusable_one() -> None:
    """--perfdata-per-list: 1 listed, 0 not, and no series at all for a list
    that gave no usable answer; the other series stay as they were."""
    xbl = Verdict(ZEN, Status.LISTED, (XBL,))
    broken = Verdict(DRONEBL, Status.UNUSABLE, reason="timeout")
    three = (ZEN, SPAMCOP, DRONEBL)
    out = run(report(xbl, Verdict(SPAMCOP, Status.CLEAN), broken), lists=three)
    per_list = run(
        report(xbl, Verdict(SPAMCOP, Status.CLEAN), broken), lists=three, perfdata_per_list=True
    )
    assert out.splitlines()[-1] == (
        "| errors=1;0;;0;3 listed=1;0;1;0;3 lists=3;;;0 time=0.25s;;;0"
    )
    assert per_list.splitlines()[-1] == (
        "| errors=1;0;;0;3 list_bl_spamcop_net=0;;;0;1 list_zen_spamhaus_org=1;;;0;1 "
        "listed=1;0;1;0;3 lists=3;;;0 time=0.25s;;;0"
    )
    assert per_list.splitlines()[:-1] == out.splitlines()[:-1]


def test_perfdata_per_list_counts_the_targets_it_lists() -> None:
    """With several targets: the number listed on that list, of those it
    answered usably about."""
    both = (SPAMCOP, PSBL)
    first = report(answered(SPAMCOP, "127.0.0.2"), answered(PSBL, "127.0.0.2"), target="a")
    second = report(
        Verdict(SPAMCOP, Status.CLEAN), Verdict(PSBL, Status.UNUSABLE, reason="x"), target="b"
    )
    out = run(first, second, lists=both, perfdata_per_list=True)
    assert " list_bl_spamcop_net=1;;;0;2 list_psbl_surriel_com=1;;;0;1 " in out


def test_every_series_has_a_min_counts_no_unit_and_time_seconds() -> None:
    """Graphing tools scale the axes from min and max: every series a run can
    emit (history, host names, several targets, per list) has min 0; counts
    have no unit (Monitoring Plugins guidelines), ``time`` is in seconds; the
    max where one exists."""
    listed = Verdict(SPAMCOP, Status.LISTED, (ipaddress.IPv4Address("127.0.0.2"),))
    out = run(
        TargetReport("192.0.2.1", "a.example.com", "ip", (listed, Verdict(ZEN, Status.CLEAN))),
        TargetReport("192.0.2.2", "a.example.com", "ip", (Verdict(SPAMCOP, Status.CLEAN),) * 2),
        found=Findings(changes=Changes()),
        targets=(HostName("a.example.com"),),
        state_file=object(),
        perfdata_per_list=True,
    )
    series = dict(item.split("=", 1) for item in out.splitlines()[-1][2:].split(" "))
    assert sorted(series) == [
        "addresses", "addresses_listed", "delisted", "errors", "list_bl_spamcop_net",
        "list_zen_spamhaus_org", "listed", "listed_total", "lists", "new", "time", "unchecked",
    ]  # fmt: skip
    bounded = {"addresses_listed", "errors", "list_bl_spamcop_net", "list_zen_spamhaus_org",
               "listed", "listed_total"}  # fmt: skip
    for label, perf in series.items():
        value, _warn, _crit, low, high = [*perf.split(";"), ""][:5]
        assert low == "0", (label, perf)
        assert (high != "") == (label in bounded), (label, perf)
        unit = value.lstrip("0123456789.")
        assert unit == ("s" if label == "time" else ""), (label, perf)
