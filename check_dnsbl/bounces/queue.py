"""The deferred queue, as ``postqueue -j`` (Postfix 3.1+) lists it: one JSON
object per message, with each recipient's delay reason.

This is the one process check_dnsbl's package ever starts, and only with
--queue: a fixed argv (POSTQUEUE, ``-j``, and ``-c DIR`` for a Postfix
instance), no shell, a minimal environment, a timeout within -t, and its
output read with a bound. Postqueue only lists: the queue is never flushed
nor changed; the output names the command that retries it.
"""

import json
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

POSTQUEUE = "/usr/sbin/postqueue"
#: Most bytes of queue listing read: about 200,000 messages.
MAX_OUTPUT = 64 << 20
_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}


@dataclass(frozen=True)
class Queued:
    """One recipient of a deferred message, and why it waits."""

    queue_id: str
    arrival: float
    recipient: str
    reason: str


class QueueError(Exception):
    """The queue could not be listed; the message is one line."""


def argv(config_dir: Path | None) -> list[str]:
    return [POSTQUEUE, *(["-c", str(config_dir)] if config_dir else []), "-j"]


def retry_command(config_dir: Path | None) -> str:
    """The command that retries the deferred mail now (for the output)."""
    return "postqueue " + (f"-c {config_dir} " if config_dir else "") + "-f"


def list_deferred(config_dir: Path | None, until: float) -> tuple[list[Queued], str]:
    """The deferred queue's recipients, and a note when the listing was cut
    at MAX_OUTPUT. QueueError when postqueue cannot list it in time."""
    out, cut = _run(argv(config_dir), until)
    return parse(out), f"queue listing cut at {MAX_OUTPUT >> 20} MiB" if cut else ""


def parse(out: bytes) -> list[Queued]:
    """Pure: ``postqueue -j`` output -> the deferred recipients. A line that is
    not a message object (cut short, garbled) is skipped."""
    found: list[Queued] = []
    for line in out.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict) or message.get("queue_name") != "deferred":
            continue
        arrival = message.get("arrival_time")
        recipients = message.get("recipients")
        queue_id = message.get("queue_id")
        if not isinstance(queue_id, str) or not isinstance(recipients, list):
            continue
        for rcpt in recipients:
            if not isinstance(rcpt, dict):
                continue
            address, reason = rcpt.get("address"), rcpt.get("delay_reason", "")
            if isinstance(address, str) and isinstance(reason, str):
                when = float(arrival) if isinstance(arrival, int | float) else 0.0
                found.append(Queued(queue_id[:32], when, address.lower(), reason))
    return found


def _run(command: list[str], until: float) -> tuple[bytes, bool]:
    """``command``'s stdout (at most MAX_OUTPUT bytes, and whether it was cut),
    stderr kept for the error message; killed at ``until``."""
    if not os.access(command[0], os.X_OK):
        raise QueueError(f"{command[0]} not found: --queue needs Postfix 3.1 or later")
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_ENV,
            close_fds=True,
            start_new_session=True,
        )
    except OSError as exc:
        raise QueueError(f"cannot run {command[0]}: {exc.strerror}") from None
    out, err, cut = bytearray(), bytearray(), False
    assert proc.stdout is not None and proc.stderr is not None
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ, out)
            sel.register(proc.stderr, selectors.EVENT_READ, err)
            while sel.get_map():
                left = until - time.monotonic()
                if left <= 0:
                    raise QueueError(f"{' '.join(command)} did not finish within -t")
                for key, _ in sel.select(left):
                    data = os.read(key.fd, 1 << 16)
                    if not data:
                        sel.unregister(key.fileobj)
                        continue
                    buf: bytearray = key.data
                    room = (MAX_OUTPUT if buf is out else 4096) - len(buf)
                    buf += data[: max(room, 0)]
                    if buf is out and len(data) > room:
                        cut = True
                        sel.unregister(proc.stdout)
                if cut:
                    break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    if proc.returncode != 0 and not cut:
        said = " ".join(err.decode("utf-8", "replace").split())[:300]
        raise QueueError(f"{' '.join(command)} failed (exit {proc.returncode}): {said}")
    return bytes(out[: out.rfind(b"\n") + 1] if cut else out), cut
