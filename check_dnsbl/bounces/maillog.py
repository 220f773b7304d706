"""Pure: one line of the MTA's log -> a Delivery, or None.

Postfix logs each recipient's delivery attempt on one line (smtp(8), or
error(8) while a destination is held down)::

    Mar  6 08:01:02 mx postfix/smtp[4242]: 3F2A1C0123: to=<ann@example.org>,
      relay=mx.example.org[192.0.2.25]:25, delay=0.4, delays=0.1/0/0.2/0.1,
      dsn=5.7.1, status=bounced (host mx.example.org[192.0.2.25] said: 554 5.7.1
      Service unavailable; Client host [198.51.100.7] blocked using
      zen.spamhaus.org; (in reply to RCPT TO command))

with rsyslog's traditional timestamp (Debian 12) or an RFC 3339 one, and
Postfix's own maillog_file. Only the remote server's words ("said:",
"refused to talk to me:") are evidence; a local error, a timeout or a
refused connection is none. A line cut short or garbled is taken for what
it still says, or skipped; it is never an error.
"""

import re
import time
from dataclasses import dataclass
from datetime import datetime

#: Longest line parsed; Postfix's own lines stay far below it.
MAX_LINE = 16 << 10
_TRADITIONAL = r"[A-Z][a-z]{2} [ 0-3]\d \d\d:\d\d:\d\d"
_RFC3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"
_LINE = re.compile(
    rf"^(?P<ts>{_TRADITIONAL}|{_RFC3339}) \S+ postfix[\w.-]*/[\w.-]+\[\d+\]: "
    r"(?P<qid>[0-9A-Za-z]{5,20}): to=<(?P<to>[^>]{0,512})>,(?P<fields>.*?) "
    r"status=(?P<status>bounced|deferred|sent|expired)\b ?(?:\((?P<text>.*?)\)?)?\s*$"
)
_RELAY = re.compile(r" relay=([^,\s]+)")
_DSN = re.compile(r" dsn=(\d\.\d{1,3}\.\d{1,3})")
_REMOTE = re.compile(
    r"host (?P<host>[^\s\[]+)\[(?P<ip>[^\]]*)\](?::\d+)? (?:said|refused to talk to me): "
    r"(?P<reply>.*)$"
)
_IN_REPLY_TO = re.compile(r"\s*\(in reply to [A-Za-z ]{1,40} command\)\s*$")
_CODE = re.compile(r"^([245]\d\d)[ -](?:([245]\.\d{1,3}\.\d{1,3}) )?")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Delivery:
    """One recipient's delivery attempt. ``status`` is Postfix's (bounced,
    deferred, sent, expired); ``reply`` the remote server's words, cleaned
    ("" when no remote server spoke); ``server`` the host that spoke."""

    when: float
    queue_id: str
    recipient: str
    domain: str
    status: str
    dsn: str
    relay: str
    server: str = ""
    reply: str = ""


def parse(raw: bytes, now: float) -> Delivery | None:
    """The delivery ``raw`` logs, or None for any other line."""
    if b"status=" not in raw:  # the common case, cheaply
        return None
    text = raw[:MAX_LINE].decode("utf-8", "replace").replace("\0", "")
    match = _LINE.match(text)
    if match is None:
        return None
    when = timestamp(match["ts"], now)
    if when is None:
        return None
    fields = match["fields"]
    relay = _RELAY.search(fields)
    dsn = _DSN.search(fields)
    recipient = match["to"].strip().lower()
    server, reply = remote(match["text"] or "")
    if reply and not text.rstrip().endswith(")"):  # cut short: its last word may be a part
        reply = reply.rpartition(" ")[0] + " [cut]"
    return Delivery(
        when=when,
        queue_id=match["qid"],
        recipient=recipient,
        domain=recipient.rpartition("@")[2] if "@" in recipient else "",
        status=match["status"],
        dsn=dsn[1] if dsn else "",
        relay=relay[1] if relay else "",
        server=server,
        reply=reply,
    )


def remote(text: str) -> tuple[str, str]:
    """The remote server and its words in a Postfix delivery status text (a
    log line's, or a queued recipient's delay reason); ("", "") when no
    remote server spoke (a timeout, a refused connection, a local error)."""
    found = _REMOTE.search(text)
    if found is None:
        return "", ""
    return found["host"].lower(), clean_reply(found["reply"])


def clean_reply(reply: str) -> str:
    """A multi-line SMTP reply as one sentence: the code once, the lines'
    repeated codes (``554-``) and Postfix's "(in reply to ...)" dropped."""
    reply = _IN_REPLY_TO.sub("", reply).strip()
    code = _CODE.match(reply)
    if code:
        again = rf"\s{code[1]}[- ]" + (rf"(?:{re.escape(code[2])} )?" if code[2] else "")
        head = f"{code[1]} {code[2]} " if code[2] else f"{code[1]} "
        reply = head + re.sub(again, " ", reply[code.end() :])
    return " ".join(reply.split())


def timestamp(text: str, now: float) -> float | None:
    """The time a log line's stamp names. A traditional stamp has no year:
    the latest one not more than a day ahead of ``now`` (log lines from a
    clock a little ahead stay in this year; December's lines read in January
    go to last year)."""
    if "T" in text:
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return stamp.timestamp() if stamp.tzinfo else time.mktime(stamp.timetuple())
    month, day, clock = text.split()
    try:
        hour, minute, second = (int(part) for part in clock.split(":"))
        year = time.localtime(now).tm_year
        for candidate in (year, year - 1):
            parts = (candidate, MONTHS.index(month) + 1, int(day), hour, minute, second, 0, 0, -1)
            when = time.mktime(time.struct_time(parts))
            if when <= now + 86400:
                return when
    except (ValueError, OverflowError):
        return None
    return None
