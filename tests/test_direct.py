"""--direct, the pure part: which verdicts may ask the list's own servers,
and what a server's non-recursive reply is worth (no network here)."""

import pytest

from check_dnsbl.catalog import Catalog
from check_dnsbl.direct import marked, read_direct, server_name, wants_direct
from check_dnsbl.model import NOT_ASKED, Failure, Outcome, Reply, Status, Verdict
from check_dnsbl.verdict import classify

CATALOG = Catalog.load()
ZEN = CATALOG.get("zen.spamhaus.org")
SERVER = server_name("ns1.zen.example.", "192.0.2.53")
REFUSED_BY_RESOLVER = Verdict(ZEN, Status.UNUSABLE, reason="query refused: public/open resolver")


def test_a_server_is_named_as_an_admin_writes_it() -> None:
    assert SERVER == "ns1.zen.example [192.0.2.53]"


def test_an_unusable_verdict_of_a_public_list_goes_direct() -> None:
    assert wants_direct(REFUSED_BY_RESOLVER)


@pytest.mark.parametrize(
    "verdict",
    [
        Verdict(ZEN, Status.CLEAN),
        Verdict(ZEN, Status.LISTED),
        Verdict(ZEN, Status.NOT_APPLICABLE, reason="list has no IPv6 data"),
        Verdict(ZEN, Status.UNUSABLE, reason=f"{NOT_ASKED}: -t 5 ran out first"),
        Verdict(ZEN.with_key("k" * 26), Status.UNUSABLE, reason="invalid key"),
        Verdict(CATALOG.get("dnsbl.sorbs.net"), Status.UNUSABLE, reason="dead list"),
    ],
    ids=["clean", "listed", "not-applicable", "deadline", "keyed-dqs", "dead-list"],
)
def test_never_direct(verdict: Verdict) -> None:
    assert not wants_direct(verdict)


def test_a_list_needing_a_key_is_never_asked_directly() -> None:
    keyed_only = [lst for lst in CATALOG.lists.values() if lst.key_required]
    assert keyed_only, "the catalog has a list that needs a key"
    assert not wants_direct(Verdict(keyed_only[0], Status.UNUSABLE, reason="needs a key"))


@pytest.mark.parametrize(
    ("outcome", "read"),
    [
        (Reply("NXDOMAIN", (), True), Reply("NXDOMAIN", (), True)),
        (Reply("NOERROR", ("127.0.0.4",), True), Reply("NOERROR", ("127.0.0.4",), True)),
        (
            Reply("NOERROR", (), False),
            Failure(
                f"asked {SERVER} directly: a referral, not an answer: not a server of the zone"
            ),
        ),
        (Reply("REFUSED", (), False), Failure(f"asked {SERVER} directly: REFUSED")),
        (Reply("SERVFAIL", (), False), Failure(f"asked {SERVER} directly: SERVFAIL")),
        (
            Reply("NXDOMAIN", (), False),
            Failure(f"asked {SERVER} directly: answer without the AA bit: a lame server"),
        ),
        (
            Reply("NOERROR", ("127.0.0.2",), False),
            Failure(f"asked {SERVER} directly: answer without the AA bit: a lame server"),
        ),
        (
            Failure("timeout: no answer from resolver 192.0.2.53:53 after 2 tries"),
            Failure(
                f"asked {SERVER} directly: no answer, a lame server "
                "(timeout: no answer from resolver 192.0.2.53:53 after 2 tries)"
            ),
        ),
        (
            Failure("resolver 192.0.2.53:53 unreachable (Connection refused)"),
            Failure(
                f"asked {SERVER} directly: resolver 192.0.2.53:53 unreachable (Connection refused)"
            ),
        ),
    ],
    ids=[
        "nxdomain",
        "listed",
        "referral",
        "refused",
        "servfail",
        "lame-nxdomain",
        "lame-answer",
        "silent",
        "unreachable",
    ],
)
def test_reading_a_non_recursive_reply(outcome: Outcome, read: Outcome) -> None:
    got = read_direct(SERVER, outcome)
    assert got == read
    if isinstance(read, Reply):
        assert isinstance(got, Reply) and got.authoritative


def test_a_direct_verdict_is_marked_and_an_unusable_one_says_where_it_asked() -> None:
    listed = marked(
        classify(ZEN, read_direct(SERVER, Reply("NOERROR", ("127.0.0.4",), True))), SERVER
    )
    assert (listed.status, listed.direct, listed.reason) == (Status.LISTED, SERVER, "")
    refused = marked(
        classify(ZEN, read_direct(SERVER, Reply("NOERROR", ("127.255.255.254",), True))), SERVER
    )
    assert refused.status is Status.UNUSABLE
    assert refused.reason.startswith(
        f"asked {SERVER} directly: query refused: public/open resolver"
    )
    lame = marked(classify(ZEN, read_direct(SERVER, Reply("REFUSED"))), SERVER)
    assert lame.reason == f"asked {SERVER} directly: REFUSED"
