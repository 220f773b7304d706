"""Real Icinga 2 (and Nagios 4) instances in a temp dir, for tests/test_icinga.py.

Nothing here touches /etc/icinga2 or /var/lib/icinga2: every path constant of
the daemon (DataDir, LogDir, CacheDir, SpoolDir, InitRunDir, ZonesDir,
ConfigDir) points into the temp dir, and the daemon runs as the current user.
The plugin is run through a small sh wrapper in a temp PluginContribDir, so
the suite works on the dev venv and on Debian's /usr/bin/python3 alike, or
runs the plugin of the extracted Debian package.
"""

from __future__ import annotations

import atexit
import grp
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from tests.delivery import require

if TYPE_CHECKING:
    from tests.delivery import Package

REPO = Path(__file__).resolve().parent.parent
ICINGA_DIR = REPO / "icinga"
#: The files an admin copies into conf.d (or zones.d), in include order.
SHIPPED_CONF = (
    "dnsbl.conf",
    "services.conf",
    "notifications.conf",
    "dnsbl-bounces.conf",
    "bounces-services.conf",
)
ICINGA2 = "icinga2"
NAGIOS4 = "nagios4"

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def wait_for(
    what: str, ready: Callable[[], object], timeout: float, diag: Callable[[], str] = str
) -> None:
    """Poll ``ready`` until truthy; AssertionError with ``diag()`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{diag()}")


def write_plugin_wrapper(
    path: Path,
    *,
    state_dir: Path,
    extra_args: Sequence[str] = (),
    argv_log: Path | None = None,
    state_log: Path | None = None,
    package: Package | None = None,
) -> Path:
    """An executable that runs check_dnsbl: this checkout's with this
    interpreter, or ``package``'s (an extracted .deb, see tests/delivery.py):
    its /usr/lib/nagios/plugins/check_dnsbl, as installed, on /usr/bin/python3
    with its own modules and Debian's libraries only.

    ``argv_log`` records the arguments the caller passed, one line per run,
    before ``extra_args`` are appended. The plugin keeps its listing history
    under $STATE_DIRECTORY; unless the caller sets it, that is ``state_dir``,
    so a test never writes to ~/.local/state. ``state_log`` records the
    caller's $STATE_DIRECTORY (empty if unset), one line per run.
    """
    lines = ["#!/bin/sh"]
    if argv_log is not None:
        lines.append(f'printf "%s\\n" "$*" >> {shlex.quote(str(argv_log))}')
    if state_log is not None:
        lines.append(f'printf "%s\\n" "${{STATE_DIRECTORY:-}}" >> {shlex.quote(str(state_log))}')
    if package is None:
        pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        plugin = [sys.executable, "-m", "check_dnsbl"]
    else:
        pythonpath, plugin = str(package.pythonpath), [str(package.plugin)]
    lines += [
        f": ${{STATE_DIRECTORY:={shlex.quote(str(state_dir))}}}",
        "export STATE_DIRECTORY",
        f"PYTHONPATH={shlex.quote(pythonpath)} exec {shlex.join(plugin)} "
        f'"$@" {shlex.join(extra_args)}'.rstrip(),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def write_fake_sendmail(path: Path, spool: Path) -> Path:
    """A sendmail(8) stand-in: appends argv and the message to ``spool``."""
    path.write_text(
        "#!/bin/sh\n"
        f"spool={shlex.quote(str(spool))}\n"
        "msg=$(cat)\n"
        '{ printf "=== sendmail %s\\n" "$*"; printf "%s\\n" "$msg"; '
        'printf "=== end\\n"; } >> "$spool"\n',
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path


def read_mails(spool: Path) -> list[str]:
    """Messages captured by write_fake_sendmail(), complete ones only."""
    try:
        text = spool.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    mails = []
    for chunk in text.split("=== sendmail ")[1:]:
        head, _, rest = chunk.partition("\n")
        if "=== end\n" in rest:
            assert head == "-t -i", f"sendmail called as {head!r}"
            mails.append(rest.split("=== end\n")[0])
    return mails


def live_pids(pattern: str) -> list[int]:
    """Running (not zombie) processes whose command line contains ``pattern``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if pattern in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


class GraphiteSink:
    """A TCP listener on 127.0.0.1 that keeps the lines a GraphiteWriter sends."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> GraphiteSink:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def _serve(self) -> None:
        conns: list[socket.socket] = []
        buffers: dict[socket.socket, bytes] = {}
        try:
            while not self._stop.is_set():
                try:
                    conn, _ = self._server.accept()
                    conn.settimeout(0.05)
                    conns.append(conn)
                    buffers[conn] = b""
                except TimeoutError:
                    pass
                for conn in list(conns):
                    try:
                        data = conn.recv(65536)
                    except TimeoutError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        conns.remove(conn)
                        conn.close()
                        continue
                    buffers[conn] += data
                    *done, buffers[conn] = buffers[conn].split(b"\n")
                    with self._lock:
                        self._lines.extend(d.decode("utf-8", "replace") for d in done)
        finally:
            for conn in conns:
                conn.close()


class Icinga:
    """One Icinga 2 instance in ``root``: config, validation, daemon, logs.

    ``body`` is appended to a generated icinga2.conf that sets the path
    constants, includes the ITL (``<itl>``, ``<plugins>``, ``<plugins-contrib>``)
    and then ``includes`` (e.g. the shipped icinga/*.conf).
    """

    def __init__(
        self,
        root: Path,
        *,
        body: str = "",
        includes: Iterable[Path] = (),
        plugin_contrib_dir: Path | None = None,
        node_name: str = "icinga-test.localdomain",
        exe: str = ICINGA2,
        perfdata_writer: bool = False,
        external_commands: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.exe = exe
        self.node_name = node_name
        #: Added to the daemon's environment (e.g. FakeClock.env).
        self.env = dict(env or {})
        self.root = root
        self.conf = root / "icinga2.conf"
        self.plugin_contrib_dir = plugin_contrib_dir or root / "plugins"
        self.log_path = root / "log" / "icinga2.log"
        self.stdout_path = root / "daemon.out"
        self.perfdata_dir = root / "perfdata"
        self.zones_dir = root / "zones.d"
        self.command_path = root / "run" / "icinga2.cmd"
        #: Where the ApiListener looks for ``<NodeName>.crt``/``.key`` and ``ca.crt``.
        self.certs_dir = root / "data" / "certs"
        for sub in ("data", "log", "cache", "spool", "run", "perfdata", "zones.d"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.plugin_contrib_dir.mkdir(parents=True, exist_ok=True)
        head = [
            'const PluginDir = "/usr/lib/nagios/plugins"',
            f"const PluginContribDir = {_icinga_str(self.plugin_contrib_dir)}",
            'const ManubulonPluginDir = "/usr/lib/nagios/plugins"',
            f"const NodeName = {_icinga_str(node_name)}",
            "include <itl>",
            "include <plugins>",
            "include <plugins-contrib>",
            *(f"include {_icinga_str(p)}" for p in includes),
        ]
        if perfdata_writer:
            body += perfdata_writer_conf(self.perfdata_dir)
        if external_commands:
            body += (
                'object ExternalCommandListener "command" '
                f"{{ command_path = {_icinga_str(self.command_path)} }}\n"
            )
        self.conf.write_text("\n".join(head) + "\n" + body, encoding="utf-8")
        self._proc: subprocess.Popen[bytes] | None = None

    # -------------------------------------------------------------- commands

    def args(self) -> list[str]:
        return ["-c", str(self.conf), *path_defines(self.root)]

    def validate(self) -> subprocess.CompletedProcess[str]:
        """``icinga2 daemon -C`` on this config (also dumps the object cache)."""
        return subprocess.run(
            [self.exe, "daemon", "-C", *self.args()],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def object_list(self, obj_type: str) -> str:
        """``icinga2 object list`` of the last validated config."""
        proc = subprocess.run(
            [self.exe, "object", "list", "--type", obj_type, *self.args()[2:]],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    # ---------------------------------------------------------------- daemon

    def __enter__(self) -> Icinga:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start ``icinga2 daemon`` in a session of its own; wait until it runs."""
        _LIVE.add(self)
        since = len(self.log())  # a restart appends to the same log
        with self.stdout_path.open("ab") as out:
            self._proc = subprocess.Popen(
                [self.exe, "daemon", *self.args()],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,  # umbrella + worker + spawn helper: one group
            )  # fmt: skip
        wait_for(
            "icinga2 to activate its objects",
            lambda: "Activated all objects" in self.log()[since:] or self._proc_exited(),
            START_TIMEOUT,
            self.diagnostics,
        )
        if self._proc_exited():
            raise AssertionError(f"icinga2 daemon exited at start\n{self.diagnostics()}")

    def stop(self) -> None:
        """SIGTERM the whole process group, SIGKILL leftovers, reap the umbrella."""
        proc, self._proc = self._proc, None
        _LIVE.discard(self)
        if proc is None:
            return
        pattern = str(self.conf)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + STOP_TIMEOUT
            while time.monotonic() < deadline and (proc.poll() is None or live_pids(pattern)):
                time.sleep(0.05)
            if proc.poll() is not None and not live_pids(pattern):
                break
        proc.wait(STOP_TIMEOUT)

    def command(self, line: str) -> None:
        """Send an external command (``external_commands=True``) through the
        listener's FIFO, waiting until the daemon has it open.

        The ExternalCommandListener is deprecated (it logs a warning at start)
        but needs no API certificates; the REST API would replace it.
        """
        data = f"[{int(time.time())}] {line}\n".encode()
        fd = -1

        def opened() -> bool:
            nonlocal fd
            try:  # O_NONBLOCK: fail instead of hanging while nobody reads
                fd = os.open(self.command_path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # not there yet (ENOENT), nobody reading (ENXIO)
                return False
            return True

        wait_for("the external command pipe", opened, START_TIMEOUT, self.diagnostics)
        try:
            assert os.write(fd, data) == len(data)  # < PIPE_BUF: one atomic write
        finally:
            os.close(fd)

    def check_now(self, host: str, service: str) -> None:
        """Have the checker run ``host!service`` now (a forced check: it runs
        even with active checks disabled, e.g. by enable_service_checks)."""
        self.command(f"SCHEDULE_FORCED_SVC_CHECK;{host};{service};{int(time.time())}")

    def _proc_exited(self) -> bool:
        return self._proc is not None and self._proc.poll() is not None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    # ------------------------------------------------------------ observing

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def diagnostics(self) -> str:
        """The daemon's stdout, the end of its log and its last check results."""
        out = ""
        if self.stdout_path.exists():
            out = self.stdout_path.read_text(encoding="utf-8", errors="replace")
        results = "\n".join(
            f"{r['SERVICEDESC']} {r['SERVICESTATE']} {r['SERVICESTATETYPE']}: "
            f"{r['SERVICEOUTPUT']!r} | {r['SERVICEPERFDATA']}"
            for r in self.perfdata()[-8:]
        )
        return (
            f"--- icinga2 stdout ---\n{out[-4000:]}\n--- icinga2 log ---\n{self.log()[-8000:]}"
            f"\n--- last check results ---\n{results}"
        )

    def perfdata(self) -> list[dict[str, str]]:
        """Service records of the PerfdataWriter, from the files it rotated (1/s).

        The open temp file is not read: it may hold a half-written record.
        SERVICEOUTPUT is the last field and may span lines (long output), so a
        record ends where the next ``DATATYPE::`` line starts.
        """
        files = sorted(
            p for p in self.perfdata_dir.glob("service-perfdata.*") if p.suffix[1:].isdigit()
        )
        records = []
        for path in files:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
            for chunk in re.split(r"^(?=DATATYPE::)", text, flags=re.MULTILINE):
                if not chunk.startswith("DATATYPE::SERVICEPERFDATA\t"):
                    continue
                head, sep, output = chunk.partition("\tSERVICEOUTPUT::")
                assert sep and output.endswith("\n"), f"bad perfdata record {chunk!r}"
                fields = dict(f.split("::", 1) for f in head.split("\t"))
                fields["SERVICEOUTPUT"] = output[:-1]
                records.append(fields)
        records.sort(key=lambda r: int(r["TIMET"]))
        return records

    def results(self, service: str, host: str | None = None) -> list[dict[str, str]]:
        """The PerfdataWriter records of one service (by name, and of one
        host if given), oldest first."""
        return [
            r
            for r in self.perfdata()
            if r["SERVICEDESC"] == service and host in (None, r["HOSTNAME"])
        ]


#: One record per check result; the (multi-line) output comes last.
SERVICE_FORMAT = "\t".join(
    [
        "DATATYPE::SERVICEPERFDATA",
        "TIMET::$icinga.timet$",
        "HOSTNAME::$host.name$",
        "SERVICEDESC::$service.name$",
        "SERVICEPERFDATA::$service.perfdata$",
        "SERVICESTATE::$service.state$",
        "SERVICESTATETYPE::$service.state_type$",
        "SERVICECHECKATTEMPT::$service.check_attempt$",
        "SERVICEOUTPUT::$service.output$",
    ]
)


_LIVE: set[Icinga] = set()


@atexit.register
def _stop_all() -> None:
    """A test run that dies half-way must not leave a daemon behind."""
    for icinga in list(_LIVE):
        icinga.stop()


def perfdata_writer_conf(d: Path) -> str:
    """A PerfdataWriter into ``d``, rotated every second, with state and output."""
    return f"""
object PerfdataWriter "perfdata" {{
  service_perfdata_path = {_icinga_str(d / "service-perfdata")}
  service_temp_path = {_icinga_str(d / "service-perfdata.tmp")}
  host_perfdata_path = {_icinga_str(d / "host-perfdata")}
  host_temp_path = {_icinga_str(d / "host-perfdata.tmp")}
  service_format_template = {_icinga_str(SERVICE_FORMAT)}
  rotation_interval = 1s
}}
"""


def path_defines(root: Path) -> list[str]:
    """``-D`` options that point every path constant of icinga2 into ``root``
    (for ``daemon`` and ``pki`` alike), and run it as the current user."""
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    return [
        f"-DDataDir={root / 'data'}", f"-DLogDir={root / 'log'}",
        f"-DCacheDir={root / 'cache'}", f"-DSpoolDir={root / 'spool'}",
        f"-DInitRunDir={root / 'run'}", f"-DZonesDir={root / 'zones.d'}",
        f"-DConfigDir={root}", f"-DRunAsUser={user}", f"-DRunAsGroup={group}",
    ]  # fmt: skip


def _icinga_str(value: object) -> str:
    """An Icinga 2 DSL string literal."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    return f'"{text}"'


# ------------------------------------------------------------------ Cluster


class IcingaCa:
    """A cluster's certificate authority, made and used by Icinga's own tool:
    ``icinga2 pki new-ca``, then for each node ``pki new-cert`` and ``pki
    sign-csr`` (what ``node setup`` does with a ticket, minus the round trip
    to the master). Its files stay in ``root``, never in /var/lib/icinga2."""

    def __init__(self, root: Path, exe: str = ICINGA2) -> None:
        self.root, self.exe = root, exe
        for sub in ("data", "log"):  # DataDir/ca holds the CA; LogDir, crash reports
            (root / sub).mkdir(parents=True, exist_ok=True)
        self._pki("new-ca")
        self.ca_crt = root / "data" / "ca" / "ca.crt"

    def _pki(self, *args: str) -> None:
        proc = subprocess.run(
            [self.exe, "pki", *args, *path_defines(self.root)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, f"icinga2 pki {args[0]}: {proc.stdout}{proc.stderr}"

    def issue(self, node: Icinga) -> None:
        """The node's key and a certificate for its NodeName signed by this CA,
        and the CA's certificate, where the node's ApiListener reads them."""
        name, certs = node.node_name, node.certs_dir
        certs.mkdir(parents=True, exist_ok=True)
        csr = self.root / f"{name}.csr"
        self._pki("new-cert", "--cn", name, "--key", str(certs / f"{name}.key"), "--csr", str(csr))
        self._pki("sign-csr", "--csr", str(csr), "--cert", str(certs / f"{name}.crt"))
        shutil.copy(self.ca_crt, certs / "ca.crt")


def api_listener_conf(port: int, *, accept_config: bool, accept_commands: bool) -> str:
    """The ``api`` feature of a cluster node, on 127.0.0.1:``port``, TLS with
    the certificates in DataDir/certs; agents and satellites accept config
    (the global zone, their zone) and commands (command_endpoint) from above."""
    return f"""
object ApiListener "api" {{
  bind_host = "127.0.0.1"
  bind_port = {port}
  accept_config = {str(accept_config).lower()}
  accept_commands = {str(accept_commands).lower()}
}}
"""


def graphite_writer_conf(port: int) -> str:
    """A GraphiteWriter to 127.0.0.1:``port``, with the thresholds: each
    series' min, max, warn and crit go out beside its value."""
    return f"""
object GraphiteWriter "graphite" {{
  host = "127.0.0.1"
  port = {port}
  enable_send_thresholds = true
}}
"""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the daemon binds it a moment later)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port: int = sock.getsockname()[1]
        return port


def port_listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port`` (SO_REUSEADDR: a
    connection in TIME_WAIT does not count, a listener does)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


class FakeClock:
    """libfaketime for one daemon: its wall clock runs ``offset`` seconds off
    the real one, until ``set()`` moves it; the file is read again each second.

    Only processes named icinga2 are affected, and monotonic clocks never.
    """

    def __init__(self, path: Path, offset: float) -> None:
        libs = sorted(Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1"))
        require(bool(libs), "libfaketime not installed (apt-get install libfaketime)")
        self.lib, self.path = libs[0], path
        self.set(offset)

    def set(self, offset: float) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{offset:+.0f}\n", encoding="utf-8")
        tmp.replace(self.path)  # never half a file

    @property
    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": str(self.lib),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_CACHE_DURATION": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "FAKETIME_ONLY_CMDS": "icinga2",
        }


# ------------------------------------------------------------------- Nagios


def nagios_validate(
    root: Path, cfg_files: Iterable[Path], exe: str = NAGIOS4
) -> subprocess.CompletedProcess[str]:
    """``nagios4 -v`` on a minimal main config in ``root`` reading ``cfg_files``."""
    for sub in ("var", "spool", "checkresults"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "resource.cfg").write_text("$USER1$=/usr/lib/nagios/plugins\n", encoding="utf-8")
    main = [
        f"log_file={root / 'var' / 'nagios.log'}",
        *(f"cfg_file={p}" for p in cfg_files),
        f"resource_file={root / 'resource.cfg'}",
        f"status_file={root / 'var' / 'status.dat'}",
        f"temp_file={root / 'var' / 'nagios.tmp'}",
        f"temp_path={root / 'var'}",
        f"lock_file={root / 'var' / 'nagios.lock'}",
        f"check_result_path={root / 'checkresults'}",
        f"object_cache_file={root / 'var' / 'objects.cache'}",
        f"precached_object_file={root / 'var' / 'objects.precache'}",
        f"command_file={root / 'var' / 'nagios.cmd'}",
        f"state_retention_file={root / 'var' / 'retention.dat'}",
        "illegal_macro_output_chars=`~$&|'\"<>",
        f"nagios_user={pwd.getpwuid(os.geteuid()).pw_name}",
        f"nagios_group={grp.getgrgid(os.getegid()).gr_name}",
    ]
    cfg = root / "nagios.cfg"
    cfg.write_text("\n".join(main) + "\n", encoding="utf-8")
    return subprocess.run(
        [exe, "-v", str(cfg)], capture_output=True, text=True, timeout=60, check=False
    )
