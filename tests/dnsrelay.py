"""A UDP relay between unbound and rbldnsd that adds latency and can play dead.

Part of ``DnsWorld`` (``tests/dnsworld.py``, option ``relay``), which runs it as
a script. Every query gets a fixed delay before it is forwarded (one simulated
network round trip), and queries for chosen zones are silently dropped, like a
DNSBL whose servers stopped answering. Query IDs are rewritten on the way up so
that thousands of queries in flight never collide, and restored on the way down.

A second UDP port takes commands: ``stats`` answers a JSON object of counters
(and the relay's own CPU time), so the benchmark can count the queries each
plugin run causes; ``delay SECONDS`` changes the delay, then answers the same.

Run: ``python tests/dnsrelay.py --listen 127.53.0.3:53 --upstream 127.53.0.2:53
--control 127.53.0.3:54 --delay 0.04 --drop dead.bench.test``. Loopback only.
"""

import argparse
import asyncio
import json
import signal
import sys
import time

import dns.exception
import dns.name


def _addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host.startswith("127."):
        raise argparse.ArgumentTypeError(f"{text}: loopback (127.0.0.0/8) only")
    return host, int(port)


def query_name(packet: bytes) -> dns.name.Name | None:
    """The question name of a DNS query, or None if malformed."""
    try:
        return dns.name.from_wire(packet, 12)[0]
    except dns.exception.DNSException:
        return None


class Counters:
    def __init__(self) -> None:
        self.received = 0
        self.forwarded = 0
        self.answered = 0
        self.dropped = 0
        self.malformed = 0
        self.unmatched = 0

    def as_dict(self) -> dict[str, int]:
        return {**vars(self), "cpu_ms": round(time.process_time() * 1000)}


class Upstream(asyncio.DatagramProtocol):
    """The relay's socket towards rbldnsd; replies go back to whoever asked."""

    def __init__(self, relay: "Relay") -> None:
        self.relay = relay

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.relay.reply(data)


class Relay(asyncio.DatagramProtocol):
    """The relay's listening socket, facing unbound."""

    def __init__(self, delay: float, drop: tuple[str, ...], counters: Counters) -> None:
        self.delay = delay
        self.drop = tuple(dns.name.from_text(z) for z in drop)
        self.counters = counters
        self.down: asyncio.DatagramTransport | None = None
        self.up: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[tuple[str, int], bytes]] = {}
        self.next_id = 0
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.down = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.counters.received += 1
        name = query_name(data)
        if name is None:
            self.counters.malformed += 1
            return
        if any(name.is_subdomain(zone) for zone in self.drop):
            self.counters.dropped += 1
            return
        if self.delay > 0:
            self.loop.call_later(self.delay, self.forward, data, addr)
        else:
            self.forward(data, addr)

    def forward(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.up is not None
        qid = self.next_id
        self.next_id = (qid + 1) & 0xFFFF
        self.pending[qid] = (addr, data[:2])  # a stale entry 65536 queries old is overwritten
        self.counters.forwarded += 1
        self.up.sendto(qid.to_bytes(2, "big") + data[2:])

    def reply(self, data: bytes) -> None:
        assert self.down is not None
        entry = self.pending.pop(int.from_bytes(data[:2], "big"), None) if len(data) > 2 else None
        if entry is None:
            self.counters.unmatched += 1
            return
        addr, original_id = entry
        self.counters.answered += 1
        self.down.sendto(original_id + data[2:], addr)


class Control(asyncio.DatagramProtocol):
    """``stats`` and ``delay SECONDS``, each answered with the counters as JSON."""

    def __init__(self, relay: Relay, counters: Counters) -> None:
        self.relay = relay
        self.counters = counters
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        words = data.decode("ascii", "replace").split()
        if len(words) == 2 and words[0] == "delay":
            try:
                delay = float(words[1])
            except ValueError:
                return
            if not 0 <= delay <= 10:  # NaN too
                return
            self.relay.delay = delay
        elif words != ["stats"]:
            return  # unknown: no answer
        self.transport.sendto(json.dumps(self.counters.as_dict()).encode(), addr)


async def serve(
    listen: tuple[str, int],
    upstream: tuple[str, int],
    control: tuple[str, int],
    delay: float,
    drop: tuple[str, ...],
) -> None:
    loop = asyncio.get_running_loop()
    counters = Counters()
    relay = Relay(delay, drop, counters)
    await loop.create_datagram_endpoint(lambda: relay, local_addr=listen)
    up, _ = await loop.create_datagram_endpoint(
        lambda: Upstream(relay), local_addr=(listen[0], 0), remote_addr=upstream
    )
    relay.up = up
    await loop.create_datagram_endpoint(lambda: Control(relay, counters), local_addr=control)
    stop: asyncio.Future[None] = loop.create_future()

    def finish() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, finish)
    print(f"relay ready on {listen[0]}:{listen[1]} delay={delay}s drop={drop}", flush=True)
    await stop
    print(json.dumps(counters.as_dict()), flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", type=_addr, required=True, metavar="ADDR:PORT")
    p.add_argument("--upstream", type=_addr, required=True, metavar="ADDR:PORT")
    p.add_argument("--control", type=_addr, required=True, metavar="ADDR:PORT")
    p.add_argument("--delay", type=float, default=0.040, help="seconds added to every query")
    p.add_argument("--drop", action="append", default=[], metavar="ZONE")
    args = p.parse_args(argv)
    asyncio.run(serve(args.listen, args.upstream, args.control, args.delay, tuple(args.drop)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
