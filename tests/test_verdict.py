import ipaddress

import pytest

from check_dnsbl.catalog import Catalog, DnsblList
from check_dnsbl.model import Failure, Reply, Status, Verdict
from check_dnsbl.verdict import classify, self_tested, with_txt

CATALOG = Catalog.load()
ZEN = CATALOG.get("zen.spamhaus.org")
PLAIN = CATALOG.get("bl.unknown.test")


def listed(*codes: str) -> Reply:
    return Reply("NOERROR", codes)


@pytest.mark.parametrize(
    "outcome", [Reply("NXDOMAIN"), Reply("NOERROR")], ids=["nxdomain", "nodata"]
)
def test_no_record_is_not_listed(outcome: Reply) -> None:
    assert classify(ZEN, outcome).status is Status.CLEAN


def test_listing_keeps_codes_sorted() -> None:
    verdict = classify(ZEN, listed("127.0.0.10", "127.0.0.4"))
    assert verdict.status is Status.LISTED
    assert verdict.codes == (
        ipaddress.IPv4Address("127.0.0.4"),
        ipaddress.IPv4Address("127.0.0.10"),
    )


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("127.255.255.254", "query refused: public/open resolver"),
        ("127.255.255.255", "rate limited: excessive number of queries from this resolver"),
        ("127.255.255.252", "typo in the DNSBL zone name"),
        ("127.255.255.7", "Spamhaus error code (not a listing)"),
    ],
)
def test_spamhaus_error_codes_are_never_listings(code: str, reason: str) -> None:
    verdict = classify(ZEN, listed(code))
    assert verdict.status is Status.UNUSABLE
    assert verdict.reason.startswith(reason)
    assert verdict.reason.endswith(f"({code})")


def test_error_code_wins_over_a_listing_code_in_the_same_answer() -> None:
    assert classify(ZEN, listed("127.0.0.2", "127.255.255.254")).status is Status.UNUSABLE


def test_answer_outside_loopback_is_unusable() -> None:
    verdict = classify(PLAIN, listed("91.195.240.117"))
    assert verdict.status is Status.UNUSABLE
    assert verdict.reason.startswith("answer 91.195.240.117 is outside 127.0.0.0/8")


def test_127_0_0_1_is_not_a_listing() -> None:
    assert classify(PLAIN, listed("127.0.0.1")).status is Status.UNUSABLE


@pytest.mark.parametrize("rcode", ["SERVFAIL", "REFUSED"])
def test_resolver_errors_are_unusable_not_clean(rcode: str) -> None:
    verdict = classify(PLAIN, Reply(rcode))
    assert (verdict.status, verdict.reason) == (Status.UNUSABLE, f"resolver answered {rcode}")


def test_failure_keeps_its_reason() -> None:
    verdict = classify(PLAIN, Failure("timeout: no answer"))
    assert (verdict.status, verdict.reason) == (Status.UNUSABLE, "timeout: no answer")


def test_txt_is_attached_to_a_listing() -> None:
    verdict = with_txt(classify(ZEN, listed("127.0.0.4")), Reply("NOERROR", ("a", "b")))
    assert verdict.txt == "a b"
    assert with_txt(verdict, Failure("timeout")).txt == "a b"


GOOD = Verdict(PLAIN, Status.LISTED)
NONE = Verdict(PLAIN, Status.CLEAN)
LOST = Verdict(PLAIN, Status.UNUSABLE, reason="timeout")
V4 = ("127.0.0.2", "127.0.0.1")


@pytest.mark.parametrize("verdict", [GOOD, NONE])
def test_wildcard_list_voids_every_verdict(verdict: Verdict) -> None:
    result = self_tested(verdict, GOOD, GOOD, V4, False)
    assert result.status is Status.UNUSABLE
    assert result.reason == (
        "lists the test entry 127.0.0.1 too: dead or wildcarded list, remove it"
    )


def test_missing_positive_entry_voids_not_listed_but_keeps_a_listing() -> None:
    assert self_tested(GOOD, NONE, NONE, V4, False) == GOOD
    result = self_tested(NONE, NONE, NONE, V4, False)
    assert result.status is Status.UNUSABLE
    assert result.reason == (
        "self-test failed: test entry 127.0.0.2 is not listed: "
        "list empty, dead or refusing this resolver"
    )


def test_ipv6_self_test_names_the_ipv6_entry() -> None:
    result = self_tested(NONE, NONE, NONE, ("::ffff:7f00:2", "::ffff:7f00:1"), True)
    assert "IPv6 test entry ::ffff:7f00:2 is not listed" in result.reason


def test_unanswered_self_test_voids_not_listed() -> None:
    result = self_tested(NONE, LOST, NONE, V4, False)
    assert result.reason == "self-test failed: test entry 127.0.0.2: timeout"


def test_passing_self_test_keeps_the_verdict() -> None:
    assert self_tested(NONE, GOOD, NONE, V4, False) == NONE
    assert self_tested(LOST, GOOD, GOOD, V4, False) == LOST


# --- allowlists, code severities, explicit codes (issue 11) ----------------------

DNSWL = CATALOG.get("list.dnswl.org")
SENDERSCORE = CATALOG.get("bl.score.senderscore.com")
DBL = CATALOG.get("dbl.spamhaus.org")


def test_an_allowlist_hit_is_rated_never_listed() -> None:
    verdict = classify(DNSWL, listed("127.0.15.1"))
    assert (verdict.status, verdict.counts) == (Status.RATED, False)
    assert classify(CATALOG.get("rep.mailspike.net"), listed("127.0.0.10")).status is (
        Status.RATED
    )
    assert classify(DNSWL, listed("127.0.0.255")).reason.startswith("rate limited: DNSWL")


def test_the_generic_127_0_0_1_rule_yields_to_an_explicit_code() -> None:
    """SenderScore lists botnets with 127.0.0.1; a list without that code in
    its table still reads 127.0.0.1 as a refusal."""
    verdict = classify(SENDERSCORE, listed("127.0.0.1"))
    assert (verdict.status, verdict.counts, verdict.severity) == (Status.LISTED, True, "normal")
    assert classify(ZEN, listed("127.0.0.1")).status is Status.UNUSABLE
    refused = classify(SENDERSCORE, listed("127.255.255.255"))
    assert refused.status is Status.UNUSABLE
    assert refused.reason.startswith("refused: resolver not registered with Validity")


def test_rate_limiting_is_its_own_reason() -> None:
    limited = classify(ZEN, listed("127.255.255.255")).reason
    refused = classify(ZEN, listed("127.255.255.254")).reason
    assert limited.startswith("rate limited: excessive number of queries from this resolver (")
    assert "query less often or fewer addresses" in limited
    assert refused.startswith("query refused: public/open resolver")


@pytest.mark.parametrize(
    ("lst", "codes", "severity", "counts"),
    [
        (ZEN, ("127.0.0.2", "127.0.0.10"), "critical", True),
        (ZEN, ("127.0.0.8",), "critical", True),  # an unknown code: the list's severity
        (DBL, ("127.0.1.103",), "info", False),
        (DBL, ("127.0.1.2", "127.0.1.103"), "critical", True),  # the most severe code decides
        (CATALOG.get("multi.uribl.com"), ("127.0.0.12",), "info", False),
        (CATALOG.get("multi.uribl.com"), ("127.0.0.14",), "normal", True),
        (CATALOG.get("bl.mailspike.net"), ("127.0.0.13",), "info", False),
        (CATALOG.get("dnsbl.dronebl.org"), ("127.0.0.7",), "info", False),
    ],
)
def test_the_most_severe_code_decides(
    lst: DnsblList, codes: tuple[str, ...], severity: str, counts: bool
) -> None:
    verdict = classify(lst, listed(*codes))
    assert (verdict.status, verdict.severity, verdict.counts) == (Status.LISTED, severity, counts)


RATED = Verdict(DNSWL, Status.RATED)


def test_an_allowlist_passes_its_self_test_with_a_rated_test_entry() -> None:
    """DNSWL answers 127.0.10.0 for 127.0.0.2: an entry, though not a listing."""
    clean = Verdict(DNSWL, Status.CLEAN)
    assert self_tested(clean, RATED, clean, V4, False) == clean
    assert self_tested(RATED, RATED, clean, V4, False) == RATED
    voided = self_tested(RATED, RATED, RATED, V4, False)  # a wildcard voids good news too
    assert voided.status is Status.UNUSABLE
