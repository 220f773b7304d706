"""The second path (--direct): a list's own servers, asked without recursion.

When the resolver is the problem (Spamhaus's 127.255.255.254 for public
resolvers, SERVFAIL, NXDOMAIN rewriting, a timeout, a self-test that finds
the list silent), the zone's authoritative servers are asked themselves,
with RD=0, as a resolver of this host's own would ask them. Pure functions:
which verdicts may take that path, and what a server's non-recursive reply
is worth. The queries themselves are the Resource's.
"""

from dataclasses import replace

from check_dnsbl.model import NOT_ASKED, Failure, Outcome, Reply, Status, Verdict


def wants_direct(verdict: Verdict) -> bool:
    """An unusable verdict that asking the list's own servers could turn
    into one: never a keyed list (a DQS or Abusix key goes to its own
    service only), a dead one, one without its key, or a pair the
    deadline left unasked."""
    lst = verdict.dnsbl
    return (
        verdict.status is Status.UNUSABLE
        and not (lst.keyed or lst.key_required or lst.dead)
        and not verdict.reason.startswith(NOT_ASKED)
    )


def server_name(name: str, address: str) -> str:
    """A server as an admin writes it: ``ns1.example.net [192.0.2.53]``."""
    return f"{name.rstrip('.')} [{address}]"


def read_direct(server: str, outcome: Outcome) -> Outcome:
    """A zone server's reply to a non-recursive query, as a verdict can
    read it: an authoritative answer stands; a referral, REFUSED, any other
    error or silence is a failure with the reason. ``server`` is named as
    ``server_name`` gives it."""
    asked = f"asked {server} directly"
    if isinstance(outcome, Failure):
        if outcome.reason.startswith("timeout"):
            return Failure(f"{asked}: no answer, a lame server ({outcome.reason})")
        return Failure(f"{asked}: {outcome.reason}")
    if outcome.rcode not in ("NOERROR", "NXDOMAIN"):
        return Failure(f"{asked}: {outcome.rcode}")
    if not outcome.authoritative:
        if outcome.rcode == "NOERROR" and not outcome.records:
            return Failure(f"{asked}: a referral, not an answer: not a server of the zone")
        return Failure(f"{asked}: answer without the AA bit: a lame server")
    return Reply(outcome.rcode, outcome.records, authoritative=True)


def marked(verdict: Verdict, server: str) -> Verdict:
    """A verdict obtained from ``server`` directly, marked so; an unusable
    one says in its reason that the server was asked."""
    if verdict.status is Status.UNUSABLE and not verdict.reason.startswith("asked "):
        verdict = replace(verdict, reason=f"asked {server} directly: {verdict.reason}")
    return replace(verdict, direct=server)
