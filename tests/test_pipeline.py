"""The evaluation and presentation stages in-process, with no network: the
Metrics a run yields (``resource.metrics``) go through the Contexts and the
Summary of ``contexts.build``, and ``render`` lays out the output. Exact
states and exact text; the subprocess tests against real DNS stay too."""

import ipaddress
from dataclasses import replace
from typing import Any

import nagiosplugin

from check_dnsbl import contexts
from check_dnsbl.catalog import Catalog
from check_dnsbl.model import (
    Changes,
    Discovery,
    Findings,
    HostName,
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
