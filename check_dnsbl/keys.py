"""Keys for keyed lists (Spamhaus DQS, Abusix): where they come from, and
making sure they never leave the process except inside a DNS query name.

Keys come from a file or an environment variable, never from an argument:
the process list shows arguments to every local user.
"""

import os
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from check_dnsbl import configfile
from check_dnsbl.catalog import KEYS, DnsblList

_KEY = re.compile(r"^[A-Za-z0-9]{8,64}$")


class KeyFileError(ValueError):
    """A key that cannot be used; the message never contains the key."""


def env_name(key: str) -> str:
    return f"DNSBL_{key.upper()}_KEY"


def load_keys(files: dict[str, Path | None]) -> dict[str, str]:
    """Key name -> secret, from ``--<name>-key-file`` or ``DNSBL_<NAME>_KEY``."""
    found: dict[str, str] = {}
    for name in KEYS:
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
        if not _KEY.match(secret):
            raise KeyFileError(f"the {KEYS[name]} key in {where} is not 8-64 letters and digits")
        found[name] = secret
    return found


def unkeyed(lst: DnsblList, catalog: Iterable[DnsblList]) -> tuple[DnsblList, str]:
    """``lst`` as a keyed list, and its key, when its zone carries a key in
    its first label (``-s <key>.zen.dq.spamhaus.net``, or the same zone in a
    lists file); else ``lst`` unchanged and "". The zone of a keyed list is
    its public name: it is what the output and the state file show."""
    secret, _, rest = lst.zone.partition(".")
    if not _KEY.match(secret):
        return lst, ""
    for known in catalog:  # a keyed zone of the catalog: that list, with the key
        if known.keyed_zone and known.keyed_zone.replace("{key}", secret) == lst.zone:
            return known.with_key(secret), secret
    for known in catalog:  # another zone of a keyed service, e.g. <key>.authbl.dq.spamhaus.net
        if known.keyed_zone and rest.endswith("." + known.keyed_zone.split(".", 2)[-1]):
            label = f"{rest} ({known.key.upper()})"
            return replace(lst, zone=rest, key=known.key, query_zone=lst.zone, label=label), secret
    return lst, ""


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced: the last guard before output."""
    for secret in secrets:
        text = re.sub(re.escape(secret), "<key>", text, flags=re.IGNORECASE)
    return text
