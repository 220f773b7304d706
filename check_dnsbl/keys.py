"""Keys for keyed lists (Spamhaus DQS, Abusix): where they come from, and
making sure they never leave the process except inside a DNS query name.

Keys come from a file or an environment variable, never from an argument:
the process list shows arguments to every local user.
"""

import os
import re
from pathlib import Path

from check_dnsbl import configfile

#: Key names a list may need, with the service they unlock.
KEYS = {"dqs": "Spamhaus DQS", "abusix": "Abusix Mail Intelligence"}
#: What a key looks like: the services' keys are letters and digits.
KEY = re.compile(r"^[A-Za-z0-9]{8,64}$")


class KeyFileError(ValueError):
    """A key that cannot be used; the message never contains the key."""


def env_name(key: str) -> str:
    return f"DNSBL_{key.upper()}_KEY"


def load_keys(files: dict[str, Path | None]) -> dict[str, str]:
    """Key name -> secret, from ``--<name>-key-file`` or ``DNSBL_<NAME>_KEY``."""
    found: dict[str, str] = {}
    for name, service in KEYS.items():
        path = files.get(name)
        if path is not None:
            try:
                secret = configfile.read(path, f"--{name}-key-file").strip()
            except configfile.ConfigFileError as exc:
                raise KeyFileError(str(exc)) from None
            where = f"--{name}-key-file {path}"
        elif os.environ.get(env_name(name)):
            secret, where = os.environ[env_name(name)].strip(), env_name(name)
        else:
            continue
        if not KEY.match(secret):
            raise KeyFileError(f"the {service} key in {where} is not 8-64 letters and digits")
        found[name] = secret
    return found


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced: the last guard before output."""
    for secret in secrets:
        text = re.sub(re.escape(secret), "<key>", text, flags=re.IGNORECASE)
    return text
