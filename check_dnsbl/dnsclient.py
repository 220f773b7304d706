"""An asyncio stub-resolver client on dnspython's message API.

Why not ``dns.asyncresolver``: it opens a socket per query and has no notion
of a run-wide deadline. A DNSBL check sends hundreds to thousands of queries
to one recursive resolver, and must come back with every answer it got before
its own time runs out. So: one connected UDP socket per resolver, random query
IDs, replies matched on ID *and* question (mismatched or malformed packets are
ignored), bounded queries in flight, retries that rotate through the
resolvers, TCP when a reply is truncated, and nothing waits past the deadline.
"""

import asyncio
import contextlib
import secrets
import socket
import struct
import time
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from check_dnsbl.resolvers import Resolver


@dataclass(frozen=True)
class Reply:
    """The resolver's answer: its rcode and the records of the asked type."""

    rcode: str
    records: tuple[str, ...] = ()


@dataclass(frozen=True)
class Failure:
    """No usable reply; the reason in words."""

    reason: str


Outcome = Reply | Failure


def _parse(data: bytes) -> dns.message.Message | None:
    """A DNS message, or None for anything malformed. DNS packets are
    untrusted input, and older dnspython (2.3) raises ValueError and others,
    not only DNSException, on some malformed packets."""
    try:
        return dns.message.from_wire(data)
    except Exception:
        return None


def _answers(question: list[dns.rrset.RRset], qid: int, reply: dns.message.Message) -> bool:
    """Whether ``reply`` answers the query sent under ``qid`` (ID, QR, question)."""
    return reply.id == qid and bool(reply.flags & dns.flags.QR) and reply.question == question


class _Channel(asyncio.DatagramProtocol):
    """One connected UDP socket to one resolver, shared by all queries."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[
            int, tuple[list[dns.rrset.RRset], asyncio.Future[dns.message.Message]]
        ] = {}
        self.refused: str = ""
        self.junk = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError):  # best effort: room for a burst of replies
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)

    def datagram_received(self, data: bytes, addr: object) -> None:
        reply = _parse(data)
        entry = self.pending.get(reply.id) if reply is not None else None
        if reply is None or entry is None or not _answers(entry[0], reply.id, reply):
            self.junk += 1
            return
        if not entry[1].done():
            entry[1].set_result(reply)

    def error_received(self, exc: Exception) -> None:
        # A connected UDP socket reports ICMP port unreachable here: nothing
        # listens on the resolver's port. Every waiting query fails at once.
        self.refused = (
            f"resolver {self.resolver} unreachable ({getattr(exc, 'strerror', None) or exc})"
        )
        for _, future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionRefusedError(self.refused))

    def send(self, query: dns.message.Message) -> tuple[int, asyncio.Future[dns.message.Message]]:
        """Send ``query`` under a fresh random ID; its reply will resolve the future."""
        if self.refused or self.transport is None:
            raise ConnectionRefusedError(self.refused)
        qid = secrets.randbelow(65536)
        while qid in self.pending:
            qid = secrets.randbelow(65536)
        query.id = qid
        future: asyncio.Future[dns.message.Message] = asyncio.get_running_loop().create_future()
        self.pending[qid] = (query.question, future)
        self.transport.sendto(query.to_wire())
        return qid, future

    def forget(self, qid: int) -> None:
        entry = self.pending.pop(qid, None)
        if entry is None:
            return
        if not entry[1].done():
            entry[1].cancel()
        elif not entry[1].cancelled():
            entry[1].exception()  # retrieved: asyncio would log it to stderr otherwise


class DnsClient:
    """Queries through the given resolvers, all under one deadline."""

    def __init__(
        self,
        resolvers: tuple[Resolver, ...],
        *,
        query_timeout: float,
        retries: int,
        workers: int,
        deadline: float,
        max_qps: float = 0,
    ) -> None:
        self.resolvers = resolvers
        self.interval = 1 / max_qps if max_qps else 0.0
        self.next_send = 0.0
        self.query_timeout = query_timeout
        self.retries = retries
        self.deadline = deadline
        self.slots = asyncio.Semaphore(workers)
        self.channels: list[_Channel] = []
        self.cache: dict[tuple[str, dns.rdatatype.RdataType], asyncio.Task[Outcome]] = {}
        self.sent = 0

    async def __aenter__(self) -> "DnsClient":
        loop = asyncio.get_running_loop()
        for resolver in self.resolvers:
            channel = _Channel(resolver)
            try:
                await loop.create_datagram_endpoint(
                    lambda c=channel: c,  # type: ignore[misc]
                    remote_addr=(resolver.host, resolver.port),
                )
            except OSError as exc:  # e.g. no IPv6 route: every query fails with the reason
                channel.refused = f"resolver {resolver} unreachable ({exc.strerror or exc})"
            self.channels.append(channel)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self.cache.values():
            task.cancel()
        for channel in self.channels:
            if channel.transport is not None:
                channel.transport.close()

    @property
    def junk(self) -> int:
        """Replies ignored as malformed or not matching a query."""
        return sum(channel.junk for channel in self.channels)

    def query(self, name: str, rdtype: dns.rdatatype.RdataType) -> "asyncio.Task[Outcome]":
        """Ask once per (name, type) per run; callers share the answer."""
        key = (name.lower(), rdtype)
        if key not in self.cache:
            self.cache[key] = asyncio.ensure_future(self._resolve(name, rdtype))
        return self.cache[key]

    async def _resolve(self, name: str, rdtype: dns.rdatatype.RdataType) -> Outcome:
        """Retries go to the next resolver, and an earlier try's late answer
        still counts: every try stays registered until the query ends."""
        query = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
        reason, tries = "timeout: no answer before the run's deadline (-t)", 0
        sent: list[tuple[_Channel, int, asyncio.Future[dns.message.Message]]] = []
        async with self.slots:
            try:
                for attempt in range(self.retries + 1):
                    if all(channel.refused for channel in self.channels):
                        reason = self.channels[0].refused
                        break
                    channel = self.channels[attempt % len(self.channels)]
                    await self._pace()
                    wait = min(self.query_timeout, self.deadline - time.monotonic())
                    if wait <= 0:
                        break
                    try:
                        qid, future = channel.send(query)
                    except ConnectionRefusedError as exc:
                        reason = str(exc)
                        continue
                    self.sent += 1
                    tries += 1
                    sent.append((channel, qid, future))
                    live = [f for _, _, f in sent if not f.done()]
                    first = await self._first_reply(live, wait)
                    if isinstance(first, str):
                        reason = first or f"timeout: no answer from resolver {channel.resolver}"
                        if not first and wait < self.query_timeout:  # cut short by the deadline
                            reason = "timeout: no answer before the run's deadline (-t)"
                        continue
                    answered_by = next(c for c, _, f in sent if f is first)
                    reply = first.result()
                    if reply.flags & dns.flags.TC:
                        tcp = await self._tcp(answered_by.resolver, query)
                        if tcp is None:
                            reason = (
                                "truncated reply and no TCP answer from resolver "
                                f"{answered_by.resolver}"
                            )
                            continue
                        reply = tcp
                    rcode = reply.rcode()
                    if rcode in (dns.rcode.SERVFAIL, dns.rcode.REFUSED):
                        reason = (
                            f"resolver {answered_by.resolver} answered {dns.rcode.to_text(rcode)}"
                        )
                        if attempt + 1 < min(self.retries + 1, len(self.channels)):
                            continue  # another resolver may do better
                        return Failure(reason)
                    return Reply(dns.rcode.to_text(rcode), _records(reply, rdtype))
            finally:
                for channel, qid, _ in sent:
                    channel.forget(qid)
        if tries:
            reason += f" after {tries} {'try' if tries == 1 else 'tries'}"
        if self.junk:
            reason += f" ({self.junk} malformed or mismatched replies ignored)"
        return Failure(reason)

    async def _pace(self) -> None:
        """--max-qps: space the sends out, politely."""
        if self.interval:
            now = time.monotonic()
            send_at = max(now, self.next_send)
            self.next_send = send_at + self.interval
            await asyncio.sleep(send_at - now)

    @staticmethod
    async def _first_reply(
        futures: list[asyncio.Future[dns.message.Message]], wait: float
    ) -> asyncio.Future[dns.message.Message] | str:
        """The first try answered within ``wait``, or why none was: the refusal,
        or "" for a timeout."""
        until, refused = time.monotonic() + wait, ""
        while futures:
            done, pending = await asyncio.wait(
                futures,
                timeout=max(0.0, until - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                return ""
            for future in done:
                if not future.cancelled() and future.exception() is None:
                    return future
                refused = refused or str(future.exception() or "")
            futures = list(pending)
        return refused

    async def _tcp(
        self, resolver: Resolver, query: dns.message.Message
    ) -> dns.message.Message | None:
        """Ask again over TCP (RFC 7766), within the remaining time."""
        wait = min(self.query_timeout, self.deadline - time.monotonic())
        if wait <= 0:
            return None
        writer = None
        try:
            async with asyncio.timeout(wait):
                reader, writer = await asyncio.open_connection(resolver.host, resolver.port)
                wire = query.to_wire()
                writer.write(struct.pack("!H", len(wire)) + wire)
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = _parse(await reader.readexactly(length))
            return (
                reply if reply is not None and _answers(query.question, query.id, reply) else None
            )
        except (OSError, TimeoutError, EOFError):
            return None
        finally:
            if writer is not None:
                writer.close()


def _records(reply: dns.message.Message, rdtype: dns.rdatatype.RdataType) -> tuple[str, ...]:
    """The answer's addresses, TXT strings or MX hosts (the resolver follows CNAMEs)."""
    found: list[str] = []
    for rrset in reply.answer:
        if rrset.rdtype != rdtype:
            continue
        for rdata in rrset:
            if rdtype == dns.rdatatype.TXT:
                found.append(b"".join(rdata.strings).decode("utf-8", "replace"))
            elif rdtype == dns.rdatatype.MX:
                found.append(rdata.exchange.to_text())
            else:
                found.append(rdata.address)
    return tuple(found)
