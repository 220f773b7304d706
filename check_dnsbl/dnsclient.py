"""An asyncio stub-resolver client: many queries, one resolver, one deadline.

Why not ``dns.asyncresolver``: it opens a socket per query, builds and parses
full dnspython messages (the CPU of a /24 check), and has no notion of a
run-wide deadline. A DNSBL check sends hundreds to thousands of queries to one
recursive resolver, and must come back with every answer it got before its
own time runs out. So: one connected UDP socket per resolver; random query
IDs; replies matched on ID *and* question; bounded queries in flight; retries
that rotate through the resolvers, where a late answer to an earlier try still
counts; TCP when a reply is truncated; nothing waits past the deadline.
Messages are bytes (``wire``), with dnspython's parser for the unusual replies.

Only a well-formed reply to the question asked ends a try. A malformed or
mismatched packet under a try's ID (anyone can send one) is counted and kept
as that try's complaint: the try waits on for the good reply, and if none
comes, the query's reason says what was wrong, not a bare timeout. Over TCP
nobody can inject packets, so a bad TCP reply makes the query unusable at once.

With --direct a second client asks a list's own servers: no RD bit, and
their REFUSED or SERVFAIL is handed back as the reply, with the AA bit, for
``direct`` to read. Every client of a run shares one ``Pacer`` (--max-qps).
"""

import asyncio
import contextlib
import secrets
import socket
import struct
import time
from dataclasses import dataclass

from check_dnsbl import wire
from check_dnsbl.model import NOT_ASKED, Failure, Outcome, Reply, Resolver

Pending = asyncio.Future[wire.Parsed]


@dataclass
class _Try:
    """One query sent under one ID: what it asked, its future reply, and the
    bad replies it got meanwhile (how many, what was wrong with the first:
    a flood of them costs a counter)."""

    question: bytes
    future: Pending
    bad: int = 0
    complaint: str = ""

    def complain(self, resolver: Resolver, what: str, error: object) -> None:
        self.bad += 1
        self.complaint = self.complaint or f"{what} reply from resolver {resolver}: {error}"


class Pacer:
    """--max-qps: when the next query may go. One per run, shared by every
    client of the run (the resolver's, and the lists' own servers' with --direct)."""

    def __init__(self, max_qps: float = 0) -> None:
        self.max_qps = max_qps
        self.interval = 1 / max_qps if max_qps else 0.0
        self.next_send = 0.0

    async def pace(self, deadline: float) -> bool:
        """Space the sends out, politely. False when this send's turn would
        come after the deadline: pacing gives way to the deadline."""
        if self.interval:
            now = time.monotonic()
            send_at = max(now, self.next_send)
            if send_at >= deadline:
                return False
            self.next_send = send_at + self.interval
            await asyncio.sleep(send_at - now)
        return True


class _Channel(asyncio.DatagramProtocol):
    """One connected UDP socket to one resolver, shared by all queries."""

    def __init__(self, resolver: Resolver, recursive: bool = True) -> None:
        self.resolver = resolver
        self.recursive = recursive
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, _Try] = {}
        self.refused: str = ""
        self.junk = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError):  # best effort: room for a burst of replies
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)

    def datagram_received(self, data: bytes, addr: object) -> None:
        try:
            sent = self.pending.get(wire.reply_id(data))
        except wire.WireError:
            sent = None
        if sent is None:  # no try of ours: nothing to tell
            self.junk += 1
            return
        try:
            reply = wire.parse(data)
        except wire.WireError as exc:
            self.junk += 1
            sent.complain(self.resolver, "malformed", exc)
            return
        if reply.question != sent.question:
            self.junk += 1
            sent.complain(self.resolver, "mismatched", "another question")
        elif not sent.future.done():
            sent.future.set_result(reply)

    def error_received(self, exc: Exception) -> None:
        # A connected UDP socket reports ICMP port unreachable here: nothing
        # listens on the resolver's port. Every waiting query fails at once.
        self.refused = (
            f"resolver {self.resolver} unreachable ({getattr(exc, 'strerror', None) or exc})"
        )
        for sent in self.pending.values():
            if not sent.future.done():
                sent.future.set_exception(ConnectionRefusedError(self.refused))

    def send(self, question: bytes) -> tuple[int, _Try]:
        """Send the query under a fresh random ID; its reply resolves the try's future."""
        if self.refused or self.transport is None:
            raise ConnectionRefusedError(self.refused)
        qid = secrets.randbelow(65536)
        while qid in self.pending:
            qid = secrets.randbelow(65536)
        sent = _Try(question, asyncio.get_running_loop().create_future())
        self.pending[qid] = sent
        self.transport.sendto(wire.query(qid, question, self.recursive))
        return qid, sent

    def forget(self, qid: int) -> None:
        sent = self.pending.pop(qid, None)
        if sent is None:
            return
        if not sent.future.done():
            sent.future.cancel()
        elif not sent.future.cancelled():
            sent.future.exception()  # retrieved: asyncio would log it to stderr otherwise


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
        pacer: Pacer | None = None,
        recursive: bool = True,
    ) -> None:
        self.resolvers = resolvers
        self.pacer = pacer or Pacer(max_qps)
        #: False: the servers asked are a zone's own (--direct): no RD, and
        #: their REFUSED or SERVFAIL is the reply, for the caller to read.
        self.recursive = recursive
        self.query_timeout = query_timeout
        self.retries = retries
        self.deadline = deadline
        self.slots = asyncio.Semaphore(workers)
        self.channels: list[_Channel] = []
        self.cache: dict[tuple[str, int], asyncio.Task[Outcome]] = {}
        self.sent = 0

    async def __aenter__(self) -> "DnsClient":
        loop = asyncio.get_running_loop()
        for resolver in self.resolvers:
            channel = _Channel(resolver, self.recursive)
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

    def query(self, name: str, rdtype: int) -> "asyncio.Task[Outcome]":
        """Ask once per (name, type) per run; callers share the answer."""
        key = (name.lower(), rdtype)
        if key not in self.cache:
            self.cache[key] = asyncio.ensure_future(self.ask(name, rdtype))
        return self.cache[key]

    async def ask(self, name: str, rdtype: int) -> Outcome:
        """Ask, uncached: for the one-off queries of a run (a /24 has thousands).

        Retries go to the next resolver, and an earlier try's late answer
        still counts: every try stays registered until the query ends."""
        try:
            question = wire.question(name, rdtype)
        except ValueError as exc:
            return Failure(str(exc))
        reason, tries = "timeout: no answer before the run's deadline (-t)", 0
        sent: list[tuple[_Channel, int, _Try]] = []
        async with self.slots:
            try:
                for attempt in range(self.retries + 1):
                    slot = await self._slot(attempt, tries)
                    if not isinstance(slot, tuple):
                        reason = slot or reason
                        break
                    channel, wait = slot
                    try:
                        qid, one = channel.send(question)
                    except ConnectionRefusedError as exc:
                        reason = str(exc)
                        continue
                    self.sent += 1
                    tries += 1
                    sent.append((channel, qid, one))
                    first = await self._first_reply(
                        [t.future for _, _, t in sent if not t.future.done()], wait
                    )
                    if isinstance(first, str):
                        reason = first or f"timeout: no answer from resolver {channel.resolver}"
                        if not first and wait < self.query_timeout:  # cut short by the deadline
                            reason = "timeout: no answer before the run's deadline (-t)"
                        continue
                    answered = next(c for c, _, t in sent if t.future is first)
                    answered_by = answered.resolver
                    reply = first.result()
                    if reply.flags & wire.TC:
                        try:
                            tcp = await self._tcp(answered_by, question)
                        except wire.WireError as exc:  # the resolver's own reply: no retry
                            answered.junk += 1
                            return Failure(
                                f"malformed reply from resolver {answered_by} over TCP: {exc}"
                            )
                        if tcp is None:
                            reason = (
                                f"truncated reply and no TCP answer from resolver {answered_by}"
                            )
                            continue
                        reply = tcp
                    if self.recursive and reply.rcode_text in ("SERVFAIL", "REFUSED"):
                        reason = f"resolver {answered_by} answered {reply.rcode_text}"
                        if attempt + 1 < min(self.retries + 1, len(self.channels)):
                            continue  # another resolver may do better
                        return Failure(reason)
                    return Reply(reply.rcode_text, reply.records, bool(reply.flags & wire.AA))
            finally:
                for channel, qid, _ in sent:
                    channel.forget(qid)
        return self._failure(reason, tries, [one for _, _, one in sent if one.bad])

    def _failure(self, reason: str, tries: int, complained: list[_Try]) -> Failure:
        """Why a query ended without a good reply, in words."""
        if complained:  # what was wrong with the replies says more than the timeout
            bad = sum(one.bad for one in complained)
            return Failure(
                f"{complained[0].complaint} ({bad} malformed or mismatched "
                f"{'reply' if bad == 1 else 'replies'} to {_tries(tries)})"
            )
        if tries and "unreachable" not in reason:  # a refusal says all there is to say
            reason += f" after {_tries(tries)}"
        if self.junk:
            reason += f" ({self.junk} malformed or mismatched replies ignored)"
        return Failure(reason)

    async def _slot(self, attempt: int, tries: int) -> tuple[_Channel, float] | str:
        """The channel and the wait for this try, once --max-qps lets it go;
        else why no try can be made ("" when the deadline has come)."""
        if all(channel.refused for channel in self.channels):
            return self.channels[0].refused
        if not await self.pacer.pace(self.deadline):
            return "" if tries else f"{NOT_ASKED}: --max-qps {self.pacer.max_qps:g} leaves no time"
        wait = min(self.query_timeout, self.deadline - time.monotonic())
        return (self.channels[attempt % len(self.channels)], wait) if wait > 0 else ""

    @staticmethod
    async def _first_reply(futures: list[Pending], wait: float) -> Pending | str:
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

    async def _tcp(self, resolver: Resolver, question: bytes) -> wire.Parsed | None:
        """Ask again over TCP (RFC 7766), within the remaining time: the reply,
        None if none came, WireError if it is malformed, mismatched or truncated."""
        wait = min(self.query_timeout, self.deadline - time.monotonic())
        if wait <= 0:
            return None
        writer = None
        qid = secrets.randbelow(65536)
        try:
            async with asyncio.timeout(wait):
                reader, writer = await asyncio.open_connection(resolver.host, resolver.port)
                message = wire.query(qid, question, self.recursive)
                writer.write(struct.pack("!H", len(message)) + message)
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(length)
        except (OSError, TimeoutError, EOFError):
            return None
        finally:
            if writer is not None:
                writer.close()
        reply = wire.parse(data)
        if reply.flags & wire.TC:
            raise wire.WireError("TC bit set on a TCP reply")
        if reply.qid != qid:
            raise wire.WireError("reply under another ID")
        if reply.question != question:
            raise wire.WireError("reply to another question")
        return reply


def _tries(count: int) -> str:
    return f"{count} {'try' if count == 1 else 'tries'}"
