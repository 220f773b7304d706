"""Pure: deliveries and queued recipients -> the Evidence's groups, the
waiting mail, and each receiver's last refusal and acceptance."""

from check_dnsbl.bounces.maillog import Delivery, remote
from check_dnsbl.bounces.model import Evidence, Group, Waiting
from check_dnsbl.bounces.queue import Queued
from check_dnsbl.bounces.receivers import Citation, cite, client_address
from check_dnsbl.catalog import Catalog, DnsblList

#: Most groups kept: a burst to 100,000 domains must not grow without bound.
MAX_GROUPS = 1000


def listing(catalog: Catalog, citation: Citation) -> DnsblList | None:
    """The catalog's entry for the cited list; None when it does not know it."""
    return None if citation.private else catalog.lists.get(citation.zone)


class Collector:
    """Folds deliveries into ``evidence``, one line at a time."""

    def __init__(self, evidence: Evidence, catalog: Catalog) -> None:
        self.evidence, self.catalog = evidence, catalog
        self._groups: dict[tuple[str, str], Group] = {}
        self.dropped = 0
        #: Per receiver domain, what its latest line said ("refused" or
        #: "accepted"): log order, finer than the log's one-second stamps.
        self.last: dict[str, str] = {}

    def add(self, delivery: Delivery) -> None:
        e, domain = self.evidence, delivery.domain
        if delivery.status == "sent":
            e.accepted[domain] = max(e.accepted.get(domain, 0.0), delivery.when)
            self.last[domain] = "accepted"
            return
        citation = cite(delivery.reply) if delivery.reply else None
        if citation is None:
            return
        e.refused[domain] = max(e.refused.get(domain, 0.0), delivery.when)
        self.last[domain] = "refused"
        k = (domain, citation.zone)
        group = self._groups.get(k)
        if group is None:
            if len(self._groups) >= MAX_GROUPS:
                self.dropped += 1
                return
            group = self._groups[k] = Group(domain, citation, listing(self.catalog, citation))
            e.groups.append(group)
        hard = delivery.status in ("bounced", "expired")
        group.add(
            delivery.when, hard, delivery.server, delivery.reply, client_address(delivery.reply)
        )


def waiting(queued: list[Queued]) -> list[Waiting]:
    """Deferred messages whose reason cites a list, per receiver domain."""
    found: dict[str, Waiting] = {}
    for q in queued:
        words = remote(q.reason)[1]
        citation = cite(words) if words else None
        if citation is None:
            continue
        domain = q.recipient.rpartition("@")[2]
        w = found.setdefault(domain, Waiting(domain))
        if citation.zone not in w.lists:
            w.lists.append(citation.zone)
        if q.queue_id not in w.queue_ids:
            w.queue_ids.append(q.queue_id)
        w.oldest = min(w.oldest or q.arrival, q.arrival)
        w.words = w.words or words
    return sorted(found.values(), key=lambda w: (-len(w.queue_ids), w.domain))
