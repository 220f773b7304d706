"""A real Graphite on loopback, for tests/test_graphite.py: Debian's
carbon-cache (graphite-carbon) writing whisper files, and Debian's
graphite-web serving the render API from them.

Nothing here reads or writes the host's /etc/carbon, /etc/graphite or
/var/lib/graphite: each daemon gets a private config (carbon.conf,
storage-schemas.conf; a local_settings.py on PYTHONPATH) and private
storage, log and pid directories under ``root``, and listens on free
loopback ports only. Both run in a session of their own and are ended,
process group and all, when the context exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType

from tests.dnsworld import Daemon
from tests.icinga_harness import free_port, live_pids, port_listening, wait_for

PYTHON = "/usr/bin/python3"  # Debian's: graphite-web and carbon are its modules
CARBON_CACHE = "/usr/bin/carbon-cache"
#: Whisper's resolution: one point per STEP seconds, kept a day.
STEP = 10
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

CARBON_CONF = """\
[cache]
STORAGE_DIR = {root}/storage/
LOCAL_DATA_DIR = {root}/storage/whisper/
WHITELISTS_DIR = {root}/storage/lists/
CONF_DIR = {root}/conf/
LOG_DIR = {root}/log/
PID_DIR = {root}/run/
USER =
ENABLE_LOGROTATION = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 1000
MAX_CREATES_PER_MINUTE = inf
WHISPER_AUTOFLUSH = True
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {line_port}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pickle_port}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {query_port}
LOG_LISTENER_CONNECTIONS = False
LOG_UPDATES = False
CARBON_METRIC_INTERVAL = 0
"""

STORAGE_SCHEMAS = f"""\
[default]
pattern = .*
retentions = {STEP}s:1d
"""

LOCAL_SETTINGS = """\
SECRET_KEY = "check_dnsbl-test-only"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
TIME_ZONE = "UTC"
CONF_DIR = {root!r} + "/conf"
STORAGE_DIR = {root!r} + "/storage"
WHISPER_DIR = {root!r} + "/storage/whisper"
STANDARD_DIRS = [WHISPER_DIR]
INDEX_FILE = {root!r} + "/storage/index"
LOG_DIR = {root!r} + "/log/webapp"
LOG_ROTATION = False
DEFAULT_XFILES_FACTOR = 0
CARBONLINK_HOSTS = ["127.0.0.1:{query_port}:a"]
DATABASES = {{
    "default": {{
        "NAME": {root!r} + "/storage/graphite.db",
        "ENGINE": "django.db.backends.sqlite3",
    }}
}}
"""


class Graphite:
    """carbon-cache (line protocol on ``line_port``) and graphite-web
    (``url``), both private to ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.line_port, self.query_port, self.web_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.whisper_dir = root / "storage" / "whisper"
        for sub in ("conf", "storage/whisper", "storage/lists", "log/webapp", "run", "web"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.carbon_conf = root / "conf" / "carbon.conf"
        self.carbon_conf.write_text(
            CARBON_CONF.format(
                root=root, line_port=self.line_port, pickle_port=free_port(),
                query_port=self.query_port,
            ),
            encoding="utf-8",
        )  # fmt: skip
        (root / "conf" / "storage-schemas.conf").write_text(STORAGE_SCHEMAS, encoding="utf-8")
        (root / "web" / "local_settings.py").write_text(
            LOCAL_SETTINGS.format(root=str(root), query_port=self.query_port), encoding="utf-8"
        )
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "graphite.settings",
            "GRAPHITE_SETTINGS_MODULE": "local_settings",
            "PYTHONPATH": str(root / "web"),
        }
        self._daemons: list[Daemon] = []
        #: Every process group started (one per daemon), to prove none is left.
        self.groups: list[int] = []

    # ---------------------------------------------------------------- daemons

    def __enter__(self) -> Graphite:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        daemon = Daemon(name, argv, self.root / "log" / f"{name}.out", self.root, self.env)
        self._daemons.append(daemon)
        self.groups.append(daemon.proc.pid)
        return daemon.proc

    def start(self) -> None:
        carbon = self._spawn(
            "carbon",
            [PYTHON, CARBON_CACHE, f"--config={self.carbon_conf}", "--debug",
             f"--pidfile={self.root / 'run' / 'carbon.pid'}", "start"],
        )  # fmt: skip
        migrate = subprocess.run(
            [PYTHON, "-m", "django", "migrate", "--run-syncdb", "-v", "0"],
            env=self.env, cwd=self.root, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        web = self._spawn(
            "web",
            [PYTHON, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{self.web_port}"],
        )
        daemons = [
            ("carbon-cache", carbon, self.line_port),
            ("carbon-cache", carbon, self.query_port),
            ("graphite-web", web, None),
        ]
        for name, proc, port in daemons:

            def up(proc: subprocess.Popen[bytes] = proc, port: int | None = port) -> bool:
                return proc.poll() is not None or self._up(port)

            wait_for(f"{name} to listen", up, START_TIMEOUT, self.diagnostics)
            assert proc.poll() is None, f"{name} exited\n{self.diagnostics()}"

    def _up(self, port: int | None) -> bool:
        if port is not None:
            return port_listening(port)
        try:
            with urllib.request.urlopen(self.url + "/metrics/find?query=*", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM each process group, SIGKILL what is left, reap; no port stays bound."""
        daemons, self._daemons = self._daemons, []
        for daemon in daemons:
            daemon.stop(STOP_TIMEOUT)

    def leftovers(self) -> list[str]:
        """What outlived stop(): process groups, processes on this config, bound ports."""
        left = [f"port {p}" for p in (self.line_port, self.query_port, self.web_port)
                if port_listening(p)]  # fmt: skip
        left += [f"pid {pid}" for pid in live_pids(str(self.root))]
        for group in self.groups:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                continue
            left.append(f"process group {group}")
        return left

    def diagnostics(self) -> str:
        logs = sorted((self.root / "log").rglob("*"))
        return "\n".join(
            f"--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}"
            for p in logs
            if p.is_file()
        )

    # ------------------------------------------------------------- observing

    def metrics(self) -> list[str]:
        """Every metric path carbon has written a whisper file for."""
        return sorted(
            ".".join(p.relative_to(self.whisper_dir).with_suffix("").parts)
            for p in self.whisper_dir.rglob("*.wsp")
        )

    def render(
        self, targets: list[str], since: int, until: int, fmt: str = "json", **extra: str
    ) -> bytes:
        """The render API's answer for ``targets`` from ``since`` to ``until``."""
        query = [("target", t) for t in targets]
        query += [("from", str(since)), ("until", str(until)), ("format", fmt), *extra.items()]
        url = f"{self.url}/render?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=30) as response:
            data: bytes = response.read()
            return data

    def series(self, target: str, since: int, until: int) -> list[tuple[float | None, int]]:
        """One target's datapoints, ``[value, timestamp]`` as the JSON has them."""
        answer = json.loads(self.render([target], since, until))
        assert len(answer) == 1, answer
        return [(v, int(t)) for v, t in answer[0]["datapoints"]]


def bucket_start(now: float | None = None) -> int:
    """The start of the whisper interval ``now`` falls in."""
    now = time.time() if now is None else now
    return int(now) // STEP * STEP
