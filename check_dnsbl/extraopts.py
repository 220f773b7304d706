"""Monitoring Plugins' ``--extra-opts=[section][@file]``: options from an ini
file, so that Debian's Nagios ``check_rbl`` command and its check_rbl.ini
([rbl] server=...) run unchanged.
"""

from collections.abc import Iterable, Sequence
from pathlib import Path

from check_dnsbl import configfile


class ExtraOptsError(ValueError):
    """An --extra-opts file or section that cannot be used; one line."""


#: Where Monitoring Plugins look for --extra-opts files without @file.
DEFAULT_FILES = (
    "/etc/nagios/plugins.ini",
    "/usr/local/nagios/etc/plugins.ini",
    "/usr/local/etc/nagios/plugins.ini",
    "/etc/opt/nagios/plugins.ini",
    "/etc/nagios-plugins.ini",
    "/usr/local/etc/nagios-plugins.ini",
    "/etc/opt/nagios-plugins.ini",
)


def expand(argv: Sequence[str], prog: str, known: Iterable[str]) -> list[str]:
    """``argv`` with each --extra-opts replaced by its section's lines, each
    ``key=value`` as ``--key=value`` (the section defaults to ``prog``). A
    line that is none of the ``known`` options is refused without echoing
    it: it may hold a key (``dqs-key=...``)."""
    options = set(known)
    out: list[str] = []
    for arg in argv:
        if arg != "--extra-opts" and not arg.startswith("--extra-opts="):
            out.append(arg)
            continue
        section, _, path = arg.partition("=")[2].partition("@")
        section = section or prog
        files = [path] if path else [f for f in DEFAULT_FILES if Path(f).exists()]
        if not files:
            raise ExtraOptsError(
                f"--extra-opts: no file given and none of {DEFAULT_FILES[0]} etc."
            )
        try:
            lines = configfile.read(files[0], "--extra-opts file").splitlines()
        except configfile.ConfigFileError as exc:
            raise ExtraOptsError(str(exc)) from None
        current, found = None, False
        for number, line in enumerate((raw.strip() for raw in lines), 1):
            if line.startswith("[") and line.endswith("]"):
                current = line[1:-1].strip()
                found = found or current == section
            elif current == section and line and line[0] not in "#;":
                key, _, value = line.partition("=")
                if f"--{key.strip()}" not in options:
                    raise ExtraOptsError(
                        f"--extra-opts: line {number} of {files[0]} is not an option of "
                        f"{prog} (not shown: it may hold a secret)"
                    )
                out.append(f"--{key.strip()}={value.strip()}" if _ else f"--{key.strip()}")
        if not found:
            raise ExtraOptsError(f"--extra-opts: no section [{section}] in {files[0]}")
    return out
