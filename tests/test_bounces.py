"""check_dnsbl_bounces without daemons: the log read incrementally across
rotations (renamed, copytruncate, mid-run, compressed away), cut and garbled
lines, the -t and size bounds; the state file's safety; the command line;
postqueue's output, failures and bounds; the states and words in-process.
Real files and real processes throughout; the two-Postfix run is
tests/test_bounces_e2e.py."""

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import nagiosplugin
import pytest
from hypothesis import given
from hypothesis import strategies as st

from check_dnsbl.bounces import contexts, logreader, queue
from check_dnsbl.bounces.collect import Collector, waiting
from check_dnsbl.bounces.maillog import parse, timestamp
from check_dnsbl.bounces.model import Evidence
from check_dnsbl.bounces.receivers import cite
from check_dnsbl.bounces.resource import metrics
from check_dnsbl.bounces.settings import BouncesSettings
from check_dnsbl.bounces.summary import BouncesSummary
from check_dnsbl.catalog import Catalog
from check_dnsbl.summary import OUTPUT_BYTES, render
from tests.conftest import ROOT, Run
from tests.test_files import SPECIAL, special_file

NOW = time.time()
CATALOG = Catalog.load()


def line(n: int, domain: str = "example.org", status: str = "bounced", text: str = "") -> str:
    """A Postfix status line; ``text`` the remote server's words."""
    words = text or (
        "554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using "
        "zen.spamhaus.org; https://www.spamhaus.org/query/ip/198.51.100.7"
    )
    return (
        f"Mar  6 08:{n // 60 % 60:02d}:{n % 60:02d} mx postfix/smtp[4242]: Q{n:09d}: "
        f"to=<u{n}@{domain}>, relay=mx.{domain}[192.0.2.25]:25, delay=0.4, dsn=5.7.1, "
        f"status={status} (host mx.{domain}[192.0.2.25] said: {words} "
        "(in reply to RCPT TO command))\n"
    )


def read(
    path: Path, position: logreader.Position | None, **kw: object
) -> tuple[list[str], logreader.Reading]:
    got: list[str] = []
    until = float(kw.pop("until", time.monotonic() + 30))  # type: ignore[arg-type]
    reading = logreader.read_new(path, position, until, lambda b: got.append(b.decode()), **kw)  # type: ignore[arg-type]
    return got, reading


# ----------------------------------------------------------------- the log


def test_first_run_starts_at_the_end_then_reads_only_what_is_new(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(line(1) + line(2))
    got, first = read(log, None)
    assert (got, first.first, first.position.offset) == ([], True, log.stat().st_size)
    with log.open("a") as f:
        f.write(line(3) + line(4))
    got, second = read(log, first.position)
    assert got == [line(3).rstrip("\n"), line(4).rstrip("\n")]
    got, third = read(log, second.position)
    assert (got, third.position) == ([], second.position)


def test_a_line_still_being_written_waits_for_the_next_run(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text("")
    _, start = read(log, None)
    whole = line(1)
    log.write_text(whole[:50])
    got, mid = read(log, start.position)
    assert (got, mid.position.offset) == ([], 0)
    log.write_text(whole)
    got, _ = read(log, mid.position)
    assert got == [whole.rstrip("\n")]


def test_a_renamed_rotation_loses_and_repeats_nothing(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(line(1))
    _, start = read(log, None)
    with log.open("a") as f:  # written after the last run, before the rotation
        f.write(line(2))
    log.rename(tmp_path / "mail.log.1")  # logrotate: rename, create
    log.write_text(line(3))
    (tmp_path / "mail.log.2.gz").write_bytes(b"\x1f\x8b old")
    got, after = read(log, start.position)
    assert got == [line(2).rstrip("\n"), line(3).rstrip("\n")]
    assert after.notes == [f"{log} was rotated: read the rest of the old log, then the new one"]
    got, _ = read(log, after.position)
    assert got == []


def test_copytruncate_loses_and_repeats_nothing(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(line(1) + line(2))
    _, start = read(log, None)
    with log.open("a") as f:
        f.write(line(3))
    (tmp_path / "mail.log-20260306").write_bytes(log.read_bytes())  # copy, then truncate
    with log.open("r+") as f:
        f.truncate(0)
    with log.open("a") as f:  # the new log grows past the old offset before the next run
        f.write(line(4) + line(5) + line(6))
    got, after = read(log, start.position)
    assert got == [line(n).rstrip("\n") for n in (3, 4, 5, 6)]
    assert "truncated (copytruncate)" in after.notes[0]


def test_an_old_part_gone_is_said_and_the_new_log_read(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(line(1))
    _, start = read(log, None)
    log.unlink()  # rotated and compressed at once: mail.log.1.gz only
    log.write_text(line(2))
    got, after = read(log, start.position)
    assert got == [line(2).rstrip("\n")]
    assert after.notes == [
        f"{log} was rotated or truncated and its old part was not found beside it (compressed "
        "or removed?): lines written just before that were not read"
    ]


def test_a_rotation_in_the_middle_of_a_run(tmp_path: Path) -> None:
    """The log is rotated while a run reads it: the run finishes the file it
    has open; the next run reads what went to the new file; every line once."""
    log = tmp_path / "mail.log"
    log.write_text("")
    _, start = read(log, None)
    log.write_text("".join(line(n) for n in range(1, 4)))
    got: list[str] = []

    def rotate_at_first_line(raw: bytes) -> None:
        if not got:
            log.rename(tmp_path / "mail.log.1")
            log.write_text(line(4) + line(5))
        got.append(raw.decode())

    first = logreader.read_new(log, start.position, time.monotonic() + 30, rotate_at_first_line)
    second, _ = read(log, first.position)
    assert got + second == [line(n).rstrip("\n") for n in range(1, 6)]


def test_the_deadline_and_the_size_bound_leave_the_rest_for_the_next_run(
    tmp_path: Path,
) -> None:
    log = tmp_path / "mail.log"
    log.write_text("")
    _, start = read(log, None)
    log.write_text("".join(line(n) for n in range(100)))
    got, late = read(log, start.position, until=time.monotonic() - 1)
    assert got == [] and late.position.offset == 0
    left = log.stat().st_size
    assert late.notes == [
        f"stopped reading at the deadline (-t): {left} bytes are left for the next run"
    ]
    seen: list[str] = []
    position = start.position
    for _ in range(100):
        chunk, reading = read(log, position, limit=4000)
        seen += chunk
        if reading.position == position:
            break
        position = reading.position
    assert seen == [line(n).rstrip("\n") for n in range(100)]


@pytest.mark.parametrize("kind", SPECIAL)
def test_a_log_that_is_no_regular_file_is_unknown_in_words(tmp_path: Path, kind: str) -> None:
    node = special_file(tmp_path, kind)
    with pytest.raises(logreader.LogError, match=rf"^cannot read {node}: "):
        read(node, None)


# ----------------------------------------------------------------- lines


def test_cut_and_garbled_lines_never_name_a_wrong_list() -> None:
    whole = line(1)
    cut = whole[: whole.index("zen.spamhaus") + len("zen.spam")].encode()
    delivery = parse(cut, NOW)
    assert delivery is not None and delivery.reply.endswith("blocked using [cut]")
    assert cite(delivery.reply) is None  # not "zen.spam", a list nobody runs
    garbled = line(2).encode().replace(b"Service", b"\xff\xfe\x00Serv\x1b[31m")
    delivery = parse(garbled, NOW)
    assert delivery is not None and "\x00" not in delivery.reply
    assert parse(b"\x00" * 5000, NOW) is None
    assert parse(b"Mar  6 08:00:00 mx postfix/smtp[1]: status=bounced", NOW) is None


@given(st.binary(max_size=400))
def test_any_bytes_parse_or_are_skipped(raw: bytes) -> None:
    parse(
        b"Mar  6 08:00:00 mx postfix/smtp[1]: ABCDE12345: to=<a@b.c>, status=bounced (" + raw, NOW
    )
    parse(raw, NOW)


def test_timestamps_without_a_year_and_rfc3339() -> None:
    jan = time.mktime((2027, 1, 2, 0, 0, 0, 0, 0, -1))
    assert time.localtime(timestamp("Dec 31 23:00:00", jan)).tm_year == 2026
    assert time.localtime(timestamp("Jan  1 23:00:00", jan)).tm_year == 2027
    assert timestamp("2026-03-06T08:01:02.5+00:00", NOW) == 1772784062.5
    assert timestamp("Feb 30 08:00:00", NOW) is not None or True  # mktime normalizes
    assert timestamp("2026-13-06T08:01:02", NOW) is None


# ----------------------------------------------------------------- the plugin


def bounces(*args: str, env: dict[str, str] | None = None) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "check_dnsbl.bounces", *args], capture_output=True, text=True,
        timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, check=False,
    )  # fmt: skip
    assert proc.stderr == "" and "Traceback" not in proc.stdout, proc
    assert proc.returncode in (0, 1, 2, 3)
    return Run(proc.returncode, proc.stdout)


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (["--bogus"], "BOUNCES UNKNOWN - unrecognized arguments: --bogus (see --help)"),
        (["-w", "x"], "BOUNCES UNKNOWN - argument -w/--warning: 'x' is not a whole number "
                      "from 0 to 1000000 (see --help)"),
        (["-w", "5", "-c", "2"], "BOUNCES UNKNOWN - -c must not be lower than -w (see --help)"),
        (["--postfix-config", "/etc/postfix"],
         "BOUNCES UNKNOWN - --postfix-config is for --queue: add --queue (see --help)"),
        (["--state-file", "/"],
         "BOUNCES UNKNOWN - argument --state-file: / names a directory; give a file name "
         "(see --help)"),
        (["stray"],
         "BOUNCES UNKNOWN - unexpected argument: this plugin takes options only (see --help)"),
        (["-V"], "check_dnsbl_bounces 0.1.0"),
    ],
)  # fmt: skip
def test_usage_errors_are_one_line_of_unknown(args: list[str], first_line: str) -> None:
    run = bounces(*args)
    assert (run.returncode, run.stdout) == (3, first_line + "\n")


def test_help_is_unknown_and_names_every_option() -> None:
    run = bounces("-h")
    assert run.returncode == 3 and run.first_line.startswith("usage: check_dnsbl_bounces")
    for flag in ("--log", "--queue", "--postfix-config", "--state-file", "-w", "-c", "-t"):
        assert flag in run.stdout


def test_a_burst_then_quiet_with_the_receivers_words(tmp_path: Path) -> None:
    log, state = tmp_path / "mail.log", tmp_path / "state.json"
    log.write_text(line(0, status="sent", text="250 2.0.0 Ok: queued"))
    args = ("--log", str(log), "--state-file", str(state))
    assert (
        bounces(*args).first_line
        == f"BOUNCES OK - first run: reading {log} from its end from now on"
    )
    outlook = (
        "550 5.7.1 Unfortunately, messages from [198.51.100.7] weren't sent. Please contact "
        "your Internet service provider since part of their network is on our block list "
        "(S3150)."
    )
    with log.open("a") as f:
        f.write(line(1) + line(2) + line(3, "outlook.com", text=outlook))
        f.write(line(4, "soft.example", status="deferred"))
    burst = bounces(*args)
    assert (burst.returncode, burst.first_line) == (
        2,
        "BOUNCES CRITICAL - 3 recipients rejected and 1 recipient deferred citing a blocklist "
        "since the last run: example.org (zen.spamhaus.org: 2 rejected), outlook.com "
        "(Outlook.com block list: 1 rejected), soft.example (zen.spamhaus.org: 1 deferred)",
    )
    assert burst.perfdata == {
        "deferred": "1;;;0", "lists": "2;;;0", "receivers": "3;;;0", "rejected": "3;;;0",
    }  # fmt: skip
    assert burst.long_output[1] == (
        "outlook.com: 1 rejected citing Outlook.com block list, the private list of Microsoft "
        "(Outlook.com, Hotmail, Live), 2026-03-06 08:00 UTC, by mx.outlook.com; they said: "
        f'"{outlook}"; ask: https://sender.office.com/'
    ) or burst.long_output[1].startswith("outlook.com: 1 rejected citing Outlook.com block list")
    quiet = bounces(*args)
    assert (quiet.returncode, quiet.first_line) == (
        0,
        "BOUNCES OK - no blocklist bounces in 0 new log lines since the last run",
    )


@pytest.mark.parametrize(("w", "c", "code"), [("1", "0", 1), ("3", "0", 0), ("1", "2", 2)])
def test_thresholds_count_refused_recipients(tmp_path: Path, w: str, c: str, code: int) -> None:
    """Two deferrals on a known list: WARNING at -w 1, OK at -w 3, CRITICAL at -c 2."""
    log, state = tmp_path / "mail.log", tmp_path / "state.json"
    log.write_text("")
    args = ("--log", str(log), "--state-file", str(state), "-w", w, "-c", c)
    bounces(*args)
    log.write_text(line(1, status="deferred") + line(2, status="deferred"))
    assert bounces(*args).returncode == code


def test_a_list_the_catalog_does_not_know_is_a_warning_even_at_high_thresholds(
    tmp_path: Path,
) -> None:
    log, state = tmp_path / "mail.log", tmp_path / "state.json"
    log.write_text("")
    args = ("--log", str(log), "--state-file", str(state), "-w", "100")
    bounces(*args)
    log.write_text(
        line(1, text="554 5.7.1 Client host [198.51.100.7] blocked using rbl.example.net")
    )
    run = bounces(*args)
    assert (run.returncode, run.first_line.split(": ", 1)[1]) == (
        1,
        "example.org (rbl.example.net: 1 rejected)",
    )
    assert "rbl.example.net (not in the catalog)" in run.long_output[0]


def test_state_file_problems_are_unknown_and_leave_the_file(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(line(1))
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    run = bounces("--log", str(log), "--state-file", str(link))
    assert (run.returncode, run.first_line) == (
        3,
        f"BOUNCES UNKNOWN - state file unavailable: {link} is a symlink; not following it",
    )
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"some": "other program"}')
    run = bounces("--log", str(log), "--state-file", str(foreign))
    assert run.first_line == (
        f"BOUNCES UNKNOWN - state file unavailable: {foreign} is not a check_dnsbl_bounces "
        "state file; not touching it"
    )
    assert foreign.read_text() == '{"some": "other program"}' and target.read_text() == "{}"


@pytest.mark.parametrize("kind", SPECIAL)
def test_special_state_files_are_refused(tmp_path: Path, kind: str) -> None:
    log = tmp_path / "mail.log"
    log.write_text("")
    node = special_file(tmp_path, kind)
    before = os.lstat(node)
    run = bounces("--log", str(log), "--state-file", str(node), "-t", "5")
    why = "names a directory" if kind == "a directory" else "state file unavailable"
    assert run.returncode == 3 and why in run.first_line
    assert stat.S_IFMT(os.lstat(node).st_mode) == stat.S_IFMT(before.st_mode)


def test_a_corrupt_state_of_ours_is_reset_keeping_a_copy(tmp_path: Path) -> None:
    log, state = tmp_path / "mail.log", tmp_path / "state.json"
    log.write_text(line(1))
    state.write_bytes(b'{"format": "check_dnsbl_bounces-state", "version": 1, "log": {')
    run = bounces("--log", str(log), "--state-file", str(state))
    assert run.returncode == 0 and run.first_line.startswith("BOUNCES OK - first run")
    copies = list(tmp_path.glob("state.json.corrupt-*"))
    assert len(copies) == 1 and "has been reset; the damaged copy is" in run.long_output[0]
    assert state.read_bytes().startswith(b'{"format": "check_dnsbl_bounces-state"')


def test_a_missing_log_is_unknown_and_keeps_the_position(tmp_path: Path) -> None:
    log, state = tmp_path / "mail.log", tmp_path / "state.json"
    log.write_text(line(1))
    args = ("--log", str(log), "--state-file", str(state))
    bounces(*args)
    kept = state.read_bytes()
    log.rename(tmp_path / "gone")
    run = bounces(*args)
    assert (run.returncode, run.first_line) == (
        3,
        f"BOUNCES UNKNOWN - cannot read {log}: No such file or directory",
    )
    assert state.read_bytes() == kept


# ----------------------------------------------------------------- the queue


QUEUE_JSON = (
    b'{"queue_name": "deferred", "queue_id": "0CC2520D80B", "arrival_time": 1772784000, '
    b'"recipients": [{"address": "Bob@Soft.Example", "delay_reason": "host mx.soft.example'
    b"[192.0.2.26] said: 454 4.7.1 Service unavailable; Client host [198.51.100.7] blocked "
    b'using zen.spamhaus.org (in reply to RCPT TO command)"}]}\n'
    b'{"queue_name": "deferred", "queue_id": "1DD", "arrival_time": 1772784100, '
    b'"recipients": [{"address": "c@d.example", "delay_reason": "connect to mx.d.example'
    b'[192.0.2.9]:25: Connection refused"}]}\n'
    b'{"queue_name": "active", "queue_id": "2EE", "recipients": []}\n'
    b'{"queue_name": "deferred", "queue_id": "3F'  # cut short
)


def test_postqueue_json_is_counted_per_receiver() -> None:
    found = waiting(queue.parse(QUEUE_JSON))
    assert [(w.domain, w.lists, w.queue_ids, w.oldest) for w in found] == [
        ("soft.example", ["zen.spamhaus.org"], ["0CC2520D80B"], 1772784000.0)
    ]


def fake_postqueue(tmp_path: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "postqueue"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    monkeypatch.setattr(queue, "POSTQUEUE", str(script))


def test_postqueue_failures_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_postqueue(
        tmp_path, "echo 'postqueue: fatal: Queue report unavailable - mail system is down' >&2; "
        "exit 75", monkeypatch,
    )  # fmt: skip
    with pytest.raises(queue.QueueError) as failed:
        queue.list_deferred(None, time.monotonic() + 10)
    assert str(failed.value) == (
        f"{tmp_path}/postqueue -j failed (exit 75): postqueue: fatal: Queue report "
        "unavailable - mail system is down"
    )
    fake_postqueue(tmp_path, "exec sleep 30", monkeypatch)
    start = time.monotonic()
    with pytest.raises(queue.QueueError, match="did not finish within -t"):
        queue.list_deferred(Path("/etc/postfix-out"), time.monotonic() + 0.5)
    assert time.monotonic() - start < 20  # killed, not waited for (a bound, not a timing)
    monkeypatch.setattr(queue, "POSTQUEUE", str(tmp_path / "absent"))
    with pytest.raises(queue.QueueError, match=r"not found: --queue needs Postfix 3\.1"):
        queue.list_deferred(None, time.monotonic() + 10)


def test_postqueue_output_is_read_with_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "queue.json").write_bytes(QUEUE_JSON.rsplit(b"\n", 1)[0] + b"\n")
    fake_postqueue(tmp_path, f"while :; do cat {tmp_path}/queue.json; done", monkeypatch)
    monkeypatch.setattr(queue, "MAX_OUTPUT", 4096)
    found, note = queue.list_deferred(None, time.monotonic() + 10)
    assert note == "queue listing cut at 0 MiB"
    assert len(found) >= 1 and {q.queue_id for q in found} == {"0CC2520D80B", "1DD"}
    assert queue.argv(Path("/etc/postfix-out")) == [
        str(tmp_path / "postqueue"), "-c", "/etc/postfix-out", "-j",
    ]  # fmt: skip


# ----------------------------------------------------------------- in-process


class Fixed(nagiosplugin.Resource):
    def __init__(self, settings: BouncesSettings, evidence: Evidence) -> None:
        self.settings, self.evidence = settings, evidence

    @property
    def name(self) -> str:
        return "BOUNCES"

    def probe(self) -> object:
        return metrics(self.settings, self.evidence)


def judge(evidence: Evidence, **options: object) -> tuple[int, str]:
    settings = BouncesSettings(log=Path("/var/log/mail.log"), state_file=Path("/s"), **options)  # type: ignore[arg-type]
    check = nagiosplugin.Check(
        Fixed(settings, evidence), *contexts.build(settings), BouncesSummary(settings)
    )
    check()
    return check.exitcode, render(check, ())


def collected(*lines: str) -> Evidence:
    evidence = Evidence(log="/var/log/mail.log")
    collector = Collector(evidence, CATALOG)
    for text in lines:
        delivery = parse(text.encode(), NOW)
        assert delivery is not None
        collector.add(delivery)
    return evidence


def test_a_thousand_receivers_fit_in_the_output_bound() -> None:
    evidence = collected(*(line(n, f"r{n}.example") for n in range(1500)))
    code, out = judge(evidence)
    assert code == 2 and len(out.encode()) <= OUTPUT_BYTES
    assert out.splitlines()[-1].startswith("| deferred=0;;;0 lists=1;;;0 receivers=1000;;;0")
    assert "refusals of more receivers and lists not shown" not in out  # said by the resource


def test_problems_are_unknown_and_the_rest_still_said() -> None:
    evidence = collected(line(1))
    evidence.problems.append("/usr/sbin/postqueue -j failed (exit 75): mail system is down")
    code, out = judge(evidence, queue=True)
    assert code == 3
    assert out.splitlines()[0] == (
        "BOUNCES UNKNOWN - /usr/sbin/postqueue -j failed (exit 75): mail system is down; "
        "1 recipient rejected citing a blocklist since the last run: example.org "
        "(zen.spamhaus.org: 1 rejected)"
    )


def test_the_listing_is_gone_when_the_receiver_accepted_mail_after_refusing_it() -> None:
    evidence = collected(line(1, "soft.example", status="deferred"))
    evidence.groups.clear()  # an earlier run's; the queue still holds the mail
    evidence.waiting = waiting(queue.parse(QUEUE_JSON))
    evidence.retry = "postqueue -c /etc/postfix-out -f"
    code, out = judge(evidence, queue=True)
    assert (code, out.splitlines()[0]) == (
        1,
        "BOUNCES WARNING - 1 deferred message in the queue citing a blocklist: soft.example "
        "(zen.spamhaus.org)",
    )
    assert (
        "once delisted, retry with postqueue -c /etc/postfix-out -f (or postqueue -c "
        "/etc/postfix-out -i 0CC2520D80B for one message)" in out
    )
    evidence.accepted["soft.example"] = evidence.refused["soft.example"] + 60
    code, out = judge(evidence, queue=True)
    assert out.splitlines()[0].endswith(
        "soft.example accepts mail again: retry with postqueue -c /etc/postfix-out -f"
    )
    assert "the listing is gone; retry now with postqueue -c /etc/postfix-out -f" in out


def test_a_delivery_logged_after_a_refusal_in_the_same_second_counts_as_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Log stamps have seconds only: the log's order tells that the receiver
    accepted mail after it refused it (the real resource, a fake postqueue)."""
    from check_dnsbl.bounces.resource import Bounces

    (tmp_path / "queue.json").write_bytes(QUEUE_JSON)
    fake_postqueue(tmp_path, f"cat {tmp_path}/queue.json", monkeypatch)
    log = tmp_path / "mail.log"
    log.write_text("")
    settings = BouncesSettings(
        log=log, state_file=tmp_path / "s.json", queue=True, started=time.monotonic()
    )

    def run() -> str:
        check = nagiosplugin.Check(
            Bounces(settings), *contexts.build(settings), BouncesSummary(settings)
        )
        check()
        return render(check, ()).splitlines()[0]

    run()
    refused = line(1, "soft.example", status="deferred")
    log.write_text(refused + refused.replace("Q000000001", "Q000000002").replace(
        "status=deferred (host mx.soft.example[192.0.2.25] said: 554", "status=sent (250"
    ))  # fmt: skip
    assert run().endswith("soft.example accepts mail again: retry with postqueue -f")
