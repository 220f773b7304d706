"""Starts and measures the plugin runs of ``bench.run``, from a small process.

Linux carries the peak RSS of the process that forks and execs a program into
that program's ``ru_maxrss``, so no plugin can read below its parent's peak.
The harness imports dnspython (``tests/dnsworld.py``), about 10 MB; this
process imports only a few standard modules, and keeps that floor low.

Run as a script by ``bench.run``. One JSON object per line: in
``{"argv": [...], "timeout": SECONDS}``, out ``{"wall", "cpu", "rss_kb",
"exit", "output"}``; in ``{}``, out ``{"peak_rss_kb"}`` (its own: the floor).
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time


def measure(argv: list[str], timeout: float) -> dict[str, object]:
    """Run ``argv`` once; wall clock around fork..reap, rusage of the child."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # e.g. ^C: leave no plugin behind
            proc.kill()
            proc.wait()
            raise
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_kb": usage.ru_maxrss,
        "exit": os.waitstatus_to_exitcode(status),
        "output": output,
    }


def peak_rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        if "argv" in request:
            reply = measure(request["argv"], request["timeout"])
        else:
            reply = {"peak_rss_kb": peak_rss_kb()}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
