"""Two real Postfix instances for tests: a sender, and a receiver that rejects
with reject_rbl_client through a DnsWorld's unbound.

Everything runs in a private network and mount namespace (``unshare --net
--mount``, as bench/world.py does), and a PID namespace whose PID 1 is the
holder: this module run as a script, which sets the namespace up and then
runs what the test asks of it, one JSON line each way. When the holder ends,
however it ends, the kernel ends every process it started. Nothing leaves
the namespace's loopback, and the host stays as it was:

- Postfix is Debian's own package, unpacked (``make postfix``:
  tools/postfix-unpack, ``apt-get download`` and ``dpkg-deb -x``) and never
  installed, so an MTA the host has (exim4, or a Postfix of its own) is never
  replaced, stopped or touched. Inside the namespace, overlay mounts show
  the unpacked files at their usual paths (/usr/sbin, /usr/lib/postfix,
  /etc/postfix), with a private /etc/passwd and /etc/group that add the
  postfix user and postdrop group, and a private /etc/resolv.conf naming the
  world's unbound (127.0.0.53:53);
- each instance has its own -c configuration directory, queue_directory,
  data_directory and maillog_file under the test's temp dir, with chroot off;
  the receiver listens on RECEIVER:2525 (hard rejections) and RECEIVER:2526
  (soft_bounce: the same rejection as a deferral), the sender relays
  HARD_DOMAIN and SOFT_DOMAIN there from SENDER.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POSTFIX_ROOT = ROOT / "build" / "postfix" / "root"
SENDER, RECEIVER = "127.0.0.25", "127.0.0.26"
RESOLVER, RBLDNSD = "127.0.0.53:53", "127.0.0.54:53"
HARD_DOMAIN, SOFT_DOMAIN = "hard.test", "soft.test"
HARD_PORT, SOFT_PORT = 2525, 2526
START_TIMEOUT = 60.0

#: The services of master.cf both instances need (Debian's, chroot off).
_MASTER = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def available() -> str:
    """Why the two-Postfix world cannot run here, or "" when it can."""
    if os.geteuid() != 0:
        return "needs root (unshare --net --mount, overlay mounts, Postfix's master)"
    for tool in ("unshare", "ip", "mount"):
        if not (shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")):
            return f"{tool} not found (util-linux, iproute2)"
    if not (POSTFIX_ROOT / "usr" / "sbin" / "postfix").exists():
        return f"Debian's postfix is not unpacked in {POSTFIX_ROOT} (make postfix)"
    return ""


class PostfixWorldError(RuntimeError):
    """The namespace, a daemon or a command in it failed."""


class PostfixWorld:
    """The test's side: starts the holder and asks it to do things."""

    def __init__(self, workdir: Path | None = None) -> None:
        self._own = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix="postfixworld-")) if workdir is None else workdir
        )
        self.workdir.chmod(0o755)
        self._proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> PostfixWorld:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        why = available()
        if why:
            raise PostfixWorldError(why)
        unshare = shutil.which("unshare") or "/usr/bin/unshare"
        self._proc = subprocess.Popen(
            # --pid --fork --kill-child: the holder is PID 1 of its own PID
            # namespace, so when it dies, however it dies (the test killed with
            # SIGKILL), the kernel ends every daemon it started
            [unshare, "--net", "--mount", "--pid", "--fork", "--kill-child",
             "--propagation", "private", "--",
             sys.executable, "-m", "tests.postfixworld", str(self.workdir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            start_new_session=True,
        )  # fmt: skip
        self.info = self._reply(START_TIMEOUT)

    def stop(self) -> None:
        """Ask the holder to stop its daemons and end. Should it be dead or
        stuck, killing unshare kills the holder (--kill-child), PID 1 of the
        namespace, and with it, by the kernel, every process it started."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                self._send(proc, {"op": "stop"})
                proc.wait(30)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                pass
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream:
                    with contextlib.suppress(OSError):  # a dead holder's pipe
                        stream.close()
        if self._own:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def info_pid(self) -> int:
        """The holder's process id (a test kills it to see stop() clean up)."""
        assert self._proc is not None
        return self._proc.pid

    def ask(self, request: dict[str, Any], wait: float = 60.0) -> dict[str, Any]:
        """One request to the holder, and its reply."""
        if self._proc is None:
            raise PostfixWorldError("the world is not running")
        self._send(self._proc, request)
        return self._reply(wait)

    def run(self, argv: list[str], stdin: str = "", timeout: float = 60.0) -> dict[str, Any]:
        """``argv`` inside the namespace: its exit code, stdout and stderr."""
        return self.ask(
            {"op": "run", "argv": argv, "stdin": stdin, "timeout": timeout}, timeout + 5
        )

    def _send(self, proc: subprocess.Popen[str], request: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()

    def _reply(self, timeout: float) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if not line:
                raise PostfixWorldError("the holder ended:\n" + "".join(lines))
            if line.startswith("{"):
                reply: dict[str, Any] = json.loads(line)
                if "error" in reply:
                    raise PostfixWorldError(reply["error"] + "\n" + "".join(lines))
                return reply
            lines.append(line)  # a daemon's or a tool's own words
        raise PostfixWorldError(f"no reply within {timeout:g}s:\n" + "".join(lines))


# --------------------------------------------------------------------------
# The holder, inside the namespace.


def _sh(*argv: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PostfixWorldError(f"{' '.join(argv)}: {proc.stdout}{proc.stderr}".strip())


def _private_etc(etc: Path) -> None:
    """/etc as the test needs it: the postfix user and postdrop group (when
    the host has none), and the world's resolver."""
    etc.mkdir()
    passwd, group = Path("/etc/passwd").read_text(), Path("/etc/group").read_text()
    users = {line.split(":")[0] for line in passwd.splitlines()}
    groups = {line.split(":")[0] for line in group.splitlines()}
    uids = {int(line.split(":")[2]) for line in passwd.splitlines() if line.count(":") >= 3}
    gids = {int(line.split(":")[2]) for line in group.splitlines() if line.count(":") >= 3}
    free = next(n for n in range(900, 1000) if n not in uids and n not in gids)
    if "postfix" not in groups:
        group += f"postfix:x:{free}:\n"
    if "postdrop" not in groups:
        group += f"postdrop:x:{free + 1 if free + 1 not in gids else free + 2}:\n"
    if "postfix" not in users:
        passwd += f"postfix:x:{free}:{free}::/var/spool/postfix:/usr/sbin/nologin\n"
    (etc / "passwd").write_text(passwd)
    (etc / "group").write_text(group)
    host, port = RESOLVER.split(":")
    assert port == "53"
    (etc / "resolv.conf").write_text(f"nameserver {host}\noptions timeout:1 attempts:2\n")
    for name in ("passwd", "group", "resolv.conf"):
        (etc / name).chmod(0o644)
    # the default instance's files, empty: postfix-script reads them for every instance
    (etc / "postfix").mkdir(mode=0o755)
    for name in ("main.cf", "master.cf"):
        (etc / "postfix" / name).write_text("")
        (etc / "postfix" / name).chmod(0o644)


def _overlay(target: str, *layers: Path | str) -> None:
    lower = ":".join(str(layer) for layer in (*layers, target))
    _sh("mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower}", target)


def _instance(work: Path, name: str, main: dict[str, str], master: str) -> Path:
    conf = work / name / "conf"
    for d in ("conf", "queue", "data"):
        (work / name / d).mkdir(parents=True)
    owner = pwd.getpwnam("postfix")  # the namespace's /etc/passwd
    os.chown(work / name / "data", owner.pw_uid, owner.pw_gid)
    settings = {
        "compatibility_level": "3.6",
        "queue_directory": str(work / name / "queue"),
        "data_directory": str(work / name / "data"),
        "maillog_file": str(work / name / "maillog"),
        "maillog_file_prefixes": str(work),
        "mail_owner": "postfix",
        "setgid_group": "postdrop",
        "inet_protocols": "ipv4",
        "alias_maps": "",
        "alias_database": "",
        "biff": "no",
        "smtputf8_enable": "no",
        "delay_warning_time": "0",
        "smtpd_tls_security_level": "none",
        "smtp_tls_security_level": "none",
        "myorigin": f"{name}.test",
        "myhostname": f"{name}.test",
        "mydomain": f"{name}.test",
        "syslog_name": f"postfix-{name}",
        **main,
    }
    (conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
    (conf / "master.cf").write_text(master + _MASTER)
    return conf


def _holder(work: Path) -> None:
    """Set the namespace up, then serve requests until "stop" or EOF."""
    from tests.dnsworld import DnsWorld, Zone

    def say(reply: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()

    _sh("ip", "link", "set", "lo", "up")
    for address in (SENDER, RECEIVER):  # Postfix binds only to an interface's own address
        _sh("ip", "addr", "add", f"{address}/32", "dev", "lo")
    interfaces = sorted(name for _, name in socket.if_nameindex())
    if interfaces != ["lo"]:
        raise PostfixWorldError(f"namespace has interfaces {interfaces}; expected only lo")
    _private_etc(work / "etc")
    _overlay("/etc", work / "etc", POSTFIX_ROOT / "etc")
    _overlay("/usr/sbin", POSTFIX_ROOT / "usr" / "sbin")
    _overlay("/usr/lib", POSTFIX_ROOT / "usr" / "lib")
    world = DnsWorld([Zone("zen.spamhaus.org")], workdir=work / "dns", resolver=RESOLVER,
                     rbldnsd=RBLDNSD)  # fmt: skip
    masters: list[subprocess.Popen[bytes]] = []
    try:
        world.start()
        receiver = _instance(
            work,
            "receiver",
            {
                "inet_interfaces": RECEIVER,
                "mydestination": f"{HARD_DOMAIN}, {SOFT_DOMAIN}",
                "local_transport": "discard:",
                "local_recipient_maps": "",
                "mynetworks": "127.0.0.1/32",
                "smtpd_client_restrictions": "reject_rbl_client zen.spamhaus.org",
            },
            # max_use=1: smtpd caches its RBL lookups for its lifetime; a fresh
            # one per session sees a delisting at once
            f"{RECEIVER}:{HARD_PORT} inet n - n - - smtpd -o max_use=1\n"
            f"{RECEIVER}:{SOFT_PORT} inet n - n - - smtpd -o max_use=1 -o soft_bounce=yes\n",
        )
        transports = f"{{ {HARD_DOMAIN}=smtp:[{RECEIVER}]:{HARD_PORT}, "
        transports += f"{SOFT_DOMAIN}=smtp:[{RECEIVER}]:{SOFT_PORT} }}"
        sender = _instance(
            work,
            "sender",
            {
                "inet_interfaces": SENDER,
                "mydestination": "sender.test",
                "local_transport": "discard:",
                "local_recipient_maps": "",
                "transport_maps": f"inline:{transports}",
                "smtp_bind_address": SENDER,
                # a new session per delivery: a cached one would keep the
                # receiver's verdict on the client from before a delisting
                "smtp_connection_cache_on_demand": "no",
                # the deferred mail waits for a flush: no retry of its own in a test's time
                "queue_run_delay": "3600s",
                "minimal_backoff_time": "3600s",
                "maximal_backoff_time": "7200s",
            },
            "",
        )
        for conf in (receiver, sender):
            masters.append(
                subprocess.Popen(
                    ["/usr/sbin/postfix", "-c", str(conf), "start-fg"],
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        _wait_ready(receiver, sender, masters)
        say({
            "ready": True,
            "sender_conf": str(sender),
            "sender_log": str(work / "sender" / "maillog"),
            "receiver_log": str(work / "receiver" / "maillog"),
        })  # fmt: skip
        for line in sys.stdin:
            request = json.loads(line)
            op = request.get("op")
            if op == "stop":
                break
            try:
                if op == "zone":
                    world.update(Zone(request["name"], ip4=tuple(request["ip4"])))
                    say({"ok": True})
                elif op == "run":
                    proc = subprocess.run(
                        request["argv"], input=request.get("stdin", ""), capture_output=True,
                        text=True, timeout=request.get("timeout", 60), check=False,
                        env={**os.environ, "PYTHONPATH": str(ROOT)},
                    )  # fmt: skip
                    say({"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr})
                else:
                    say({"error": f"unknown op {op!r}"})
            except Exception as exc:
                say({"error": f"{op}: {type(exc).__name__}: {exc}"})
    finally:
        for conf in (work / "sender" / "conf", work / "receiver" / "conf"):
            if (conf / "main.cf").exists():
                subprocess.run(["/usr/sbin/postfix", "-c", str(conf), "stop"],
                               capture_output=True, check=False, timeout=30)  # fmt: skip
        for master in masters:
            with contextlib.suppress(subprocess.TimeoutExpired):
                master.wait(10)
            if master.poll() is None:
                os.killpg(master.pid, 9)
                master.wait()
        world.stop()


def _wait_ready(receiver: Path, sender: Path, masters: list[subprocess.Popen[bytes]]) -> None:
    """Both masters up, the receiver's smtpd answering, the sender's pickup there."""
    deadline = time.monotonic() + START_TIMEOUT / 2
    while time.monotonic() < deadline:
        dead = [m for m in masters if m.poll() is not None]
        if dead:
            logs = [conf.parent / "maillog" for conf in (receiver, sender)]
            said = "".join(log.read_text() for log in logs if log.exists())
            raise PostfixWorldError(f"a Postfix master exited with {dead[0].returncode}:\n{said}")
        try:
            with socket.create_connection((RECEIVER, HARD_PORT), timeout=1) as conn:
                banner = conn.recv(512)
        except OSError:
            banner = b""
        status = subprocess.run(["/usr/sbin/postfix", "-c", str(sender), "status"],
                                capture_output=True, check=False)  # fmt: skip
        if banner.startswith(b"220") and status.returncode == 0:
            return
        time.sleep(0.2)
    raise PostfixWorldError("Postfix did not come up")


if __name__ == "__main__":
    try:
        _holder(Path(sys.argv[1]))
    except Exception as exc:
        sys.stdout.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        sys.stdout.flush()
        sys.exit(1)
