"""Verdicts: what one list's answer about one address means. Pure functions.

Every (address, list) pair ends as exactly one Status. An UNUSABLE answer (an
error code, a wildcard, a timeout, ...) is never counted as listed and never
as clean: that is the difference from check_rbl. A hit on an allowlist or a
reputation zone is RATED, never LISTED: good news is not a listing.
"""

import ipaddress
from dataclasses import replace

from check_dnsbl.catalog import DnsblList
from check_dnsbl.model import Failure, Outcome, Status, Verdict

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
RESERVED = ipaddress.IPv4Address("127.0.0.1")


def classify(dnsbl: DnsblList, outcome: Outcome) -> Verdict:
    """Turn the resolver's answer to an A query into a verdict.

    Order matters: answers outside 127/8 and operator error codes are checked
    before anything is read as a listing. The generic rule that 127.0.0.1 is
    a refusal yields to a list's own table when that table documents it
    (SenderScore: 127.0.0.1 is a botnet listing).
    """
    if isinstance(outcome, Failure):
        return Verdict(dnsbl, Status.UNUSABLE, reason=outcome.reason)
    if outcome.rcode == "NXDOMAIN" or (outcome.rcode == "NOERROR" and not outcome.records):
        return Verdict(dnsbl, Status.CLEAN)
    if outcome.rcode != "NOERROR":
        return Verdict(dnsbl, Status.UNUSABLE, reason=f"resolver answered {outcome.rcode}")
    codes = tuple(sorted({ipaddress.IPv4Address(a) for a in outcome.records}))
    for code in codes:
        if code not in LOOPBACK:
            return Verdict(
                dnsbl,
                Status.UNUSABLE,
                codes,
                f"answer {code} is outside 127.0.0.0/8: parked or hijacked zone, "
                "or a resolver rewriting NXDOMAIN",
            )
    for code in codes:
        error = dnsbl.error(code)
        if error:
            return Verdict(dnsbl, Status.UNUSABLE, codes, f"{error} ({code})")
    if RESERVED in codes and dnsbl.decode(RESERVED) is None:
        return Verdict(
            dnsbl, Status.UNUSABLE, codes, "answer 127.0.0.1 is not a listing (query refused)"
        )
    return Verdict(dnsbl, Status.LISTED if dnsbl.blocks else Status.RATED, codes)


def with_txt(verdict: Verdict, outcome: Outcome) -> Verdict:
    """Attach the TXT reason of an entry, if the list gave one."""
    if isinstance(outcome, Failure) or not outcome.records:
        return verdict
    return replace(verdict, txt=" ".join(outcome.records))


def self_tested(
    verdict: Verdict, positive: Verdict, negative: Verdict, entries: tuple[str, str], ipv6: bool
) -> Verdict:
    """Apply the RFC 5782 §5 self-test of the list to one verdict.

    ``positive`` is the list's verdict on its test entry ``entries[0]``
    (127.0.0.2, ::ffff:7f00:2 or a domain test point), which must have an
    entry (an allowlist's too: DNSWL answers 127.0.10.0); ``negative`` on
    ``entries[1]`` (127.0.0.1, ::ffff:7f00:1, "invalid"), which must not. A
    listed negative entry means a dead or wildcarded list: its hits are void.
    A missing positive entry means an empty list, or one refusing us: its
    "not listed" means nothing. A listing is kept either way.
    """
    if verdict.status in (Status.UNUSABLE, Status.NOT_APPLICABLE):
        return verdict
    listed, unlisted = entries
    if negative.status.entry:
        return replace(
            verdict,
            status=Status.UNUSABLE,
            reason=f"lists the test entry {unlisted} too: dead or wildcarded list, remove it",
        )
    if verdict.status is Status.CLEAN and not positive.status.entry:
        if positive.status is not Status.CLEAN:
            why = f"test entry {listed}: {positive.reason}"
        elif ipv6:
            why = f"IPv6 test entry {listed} is not listed: no IPv6 data, or refusing us"
        else:
            why = f"test entry {listed} is not listed: list empty, dead or refusing this resolver"
        return replace(verdict, status=Status.UNUSABLE, reason=f"self-test failed: {why}")
    return verdict
