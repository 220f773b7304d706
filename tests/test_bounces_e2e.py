"""check_dnsbl_bounces against two real Postfix instances (tests/postfixworld.py):
a listing in the DNS world makes the receiver reject real mail that the
sender's sendmail sent; the check reports it from the sender's real log and
queue; a delisting and a retry empty the queue, and the check recovers.
"""

import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Run
from tests.postfixworld import HARD_DOMAIN, SOFT_DOMAIN, PostfixWorld, available

pytestmark = pytest.mark.e2e

LISTED = "127.0.0.25 :127.0.0.2:Listed by the test world"
SAID = (
    "554 5.7.1 Service unavailable; Client host [127.0.0.25] blocked using zen.spamhaus.org; "
    "Listed by the test world"
)
#: What the host has that the test must leave as it was.
HOST_FILES = ("/usr/sbin/sendmail", "/etc/passwd", "/etc/group", "/etc/resolv.conf")


def _host() -> dict[str, object]:
    seen: dict[str, object] = {}
    for name in HOST_FILES:
        path = Path(name)
        seen[name] = path.read_bytes() if path.is_file() else None
    seen["/usr/lib/postfix"] = Path("/usr/lib/postfix").exists()
    return seen


@pytest.fixture(scope="module")
def world() -> Iterator[PostfixWorld]:
    why = available()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    before = _host()
    with PostfixWorld() as w:  # its own temp dir: Postfix's user must reach it
        yield w
    assert _host() == before, "the host's MTA files changed"


def check(world: PostfixWorld, state: Path, *args: str) -> Run:
    """The plugin, run inside the namespace as an agent would run it."""
    argv = [sys.executable, "-m", "check_dnsbl.bounces", "--log", world.info["sender_log"]]
    argv += ["--queue", "--postfix-config", world.info["sender_conf"]]
    argv += ["--state-file", str(state), *args]
    proc = world.run(argv)
    assert proc["stderr"] == "", proc["stderr"]
    assert "Traceback" not in proc["stdout"], proc["stdout"]
    return Run(proc["rc"], proc["stdout"])


def send(world: PostfixWorld, *recipients: str) -> None:
    for rcpt in recipients:
        proc = world.run(
            ["/usr/sbin/sendmail", "-C", world.info["sender_conf"], "-f", "it@sender.test",
             "--", rcpt],
            stdin=f"Subject: quarterly report\nTo: {rcpt}\n\nPlease find it attached.\n",
        )  # fmt: skip
        assert proc["rc"] == 0, proc


def wait_log(world: PostfixWorld, pattern: str, count: int, timeout: float = 60) -> str:
    """The sender's log once ``pattern`` shows ``count`` times (a daemon's state,
    waited for with a deadline)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = world.run(["cat", world.info["sender_log"]])["stdout"]
        if len(re.findall(pattern, text)) >= count:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not {count} times in the sender's log:\n{text}")


def test_a_listing_bounces_real_mail_and_a_delisting_recovers(
    world: PostfixWorld, tmp_path: Path
) -> None:
    state, conf = tmp_path / "bounces.json", world.info["sender_conf"]
    retry = f"postqueue -c {conf} -f"
    first = check(world, state)
    assert (first.returncode, first.first_line) == (
        0,
        f"BOUNCES OK - first run: reading {world.info['sender_log']} from its end from now on",
    )

    # The listing: a morning's burst, rejected by one receiver, deferred by the other.
    world.ask({"op": "zone", "name": "zen.spamhaus.org", "ip4": [LISTED]})
    send(world, *(f"user{i}@{HARD_DOMAIN}" for i in range(3)))
    send(world, *(f"user{i}@{SOFT_DOMAIN}" for i in range(2)))
    log = wait_log(world, rf"@{HARD_DOMAIN}>.* status=bounced ", 3)
    log = wait_log(world, rf"@{SOFT_DOMAIN}>.* status=deferred ", 2)
    assert f"status=bounced (host 127.0.0.26[127.0.0.26] said: {SAID}" in log  # the seed's line

    burst = check(world, state)
    assert (burst.returncode, burst.first_line) == (
        2,
        "BOUNCES CRITICAL - 3 recipients rejected and 2 recipients deferred citing a "
        f"blocklist since the last run: {HARD_DOMAIN} (zen.spamhaus.org: 3 rejected), "
        f"{SOFT_DOMAIN} (zen.spamhaus.org: 2 deferred); 2 deferred messages in the queue "
        f"citing a blocklist: {SOFT_DOMAIN} (zen.spamhaus.org)",
    )
    perf = ("rejected", "deferred", "receivers", "lists", "queued")
    assert {k: burst.value(k) for k in perf} == {
        "rejected": "3", "deferred": "2", "receivers": "2", "lists": "1", "queued": "2",
    }  # fmt: skip
    hard = next(line for line in burst.long_output if line.startswith(f"{HARD_DOMAIN}: "))
    assert hard.startswith(f"{HARD_DOMAIN}: 3 rejected citing zen.spamhaus.org (Spamhaus ZEN")
    assert f'they said: "{SAID}"' in hard
    assert hard.endswith("delist: https://check.spamhaus.org/results/?query=127.0.0.25")
    waiting = next(line for line in burst.long_output if line.startswith("queue: "))
    assert waiting.startswith(
        f"queue: 2 messages for {SOFT_DOMAIN} deferred citing zen.spamhaus.org"
    )
    assert f"once delisted, retry with {retry}" in waiting

    # Nothing new in the log; the mail still waits.
    again = check(world, state)
    assert (again.returncode, again.first_line) == (
        1,
        f"BOUNCES WARNING - 2 deferred messages in the queue citing a blocklist: "
        f"{SOFT_DOMAIN} (zen.spamhaus.org)",
    )

    # Delisted: the receiver takes new mail again, and the check says the queue can go.
    world.ask({"op": "zone", "name": "zen.spamhaus.org", "ip4": []})
    send(world, f"late@{SOFT_DOMAIN}")
    wait_log(world, rf"to=<late@{SOFT_DOMAIN}>.* status=sent ", 1)
    gone = check(world, state)
    assert (gone.returncode, gone.first_line) == (
        1,
        f"BOUNCES WARNING - 2 deferred messages in the queue citing a blocklist: "
        f"{SOFT_DOMAIN} (zen.spamhaus.org); {SOFT_DOMAIN} accepts mail again: retry with {retry}",
    )
    assert "the listing is gone; retry now with " + retry in gone.stdout

    # The seed's last manual step, as the output names it; the check never does it.
    flushed = world.run(["/usr/sbin/postqueue", "-c", conf, "-f"])
    assert flushed["rc"] == 0, flushed
    wait_log(world, rf"to=<user\d@{SOFT_DOMAIN}>.* status=sent ", 2)
    recovered = check(world, state)
    assert (recovered.returncode, recovered.first_line) == (
        0,
        "BOUNCES OK - no blocklist bounces in "
        f"{recovered.first_line.split(' in ')[1].split()[0]} new log lines since the last "
        "run; nothing deferred for a blocklist in the queue",
    )
    assert recovered.value("queued") == "0"
    assert world.run(["/usr/sbin/postqueue", "-c", conf, "-j"])["stdout"] == ""


def test_the_check_never_changes_the_queue(world: PostfixWorld, tmp_path: Path) -> None:
    """--queue only lists: with mail waiting, runs of the check leave the
    queue file for file as it was."""
    world.ask({"op": "zone", "name": "zen.spamhaus.org", "ip4": [LISTED]})
    try:
        send(world, f"kept@{SOFT_DOMAIN}")
        wait_log(world, rf"to=<kept@{SOFT_DOMAIN}>.* status=deferred ", 1)
        conf = world.info["sender_conf"]
        before = world.run(["/usr/sbin/postqueue", "-c", conf, "-j"])["stdout"]
        assert '"kept@soft.test"' in before
        for _ in range(2):
            assert check(world, tmp_path / "s.json").returncode in (0, 1)
        assert world.run(["/usr/sbin/postqueue", "-c", conf, "-j"])["stdout"] == before
    finally:
        world.ask({"op": "zone", "name": "zen.spamhaus.org", "ip4": []})
        world.run(["/usr/sbin/postsuper", "-c", world.info["sender_conf"], "-d", "ALL"])


def test_a_killed_holder_leaves_no_daemon_behind() -> None:
    """The holder dies by SIGKILL, without stopping Postfix, rbldnsd and
    unbound: the kernel ends every process of its namespace, and only those."""
    if available():
        pytest.skip("see the world fixture")
    w = PostfixWorld()
    w.start()
    try:
        netns = os.readlink(f"/proc/{w.info_pid}/ns/net")  # set up: the world is ready
        assert netns != os.readlink("/proc/self/ns/net")
        os.kill(w.info_pid, signal.SIGKILL)
    finally:
        w.stop()
    deadline = time.monotonic() + 10  # the kernel's teardown, waited for

    def left() -> list[str]:
        found = []
        for entry in Path("/proc").iterdir():
            with contextlib.suppress(OSError):
                if entry.name.isdigit() and os.readlink(entry / "ns" / "net") == netns:
                    found.append(entry.name)
        return found

    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left() == []
