"""The list catalog: what each DNSBL zone is and what its answers mean.

The known lists are data (``catalog.toml`` in this package), not code; a
``--lists-file`` uses the same TOML format and adds to or overrides it.
"""

import ipaddress
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from check_dnsbl.keys import KEY, KEYS

Severity = Literal["critical", "normal", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "normal", "info")
CATALOG_PATH = Path(__file__).with_name("catalog.toml")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
T = TypeVar("T")
_FIELDS = {
    "zone",
    "name",
    "kind",
    "ipv6",
    "severity",
    "default",
    "url",
    "codes",
    "bitmask",
    "errors",
    "dead",
    "test_listed",
    "test_unlisted",
    "key",
    "keyed_zone",
    "key_required",
}
Kind = Literal["ip", "domain"]


class CatalogError(ValueError):
    """A list definition that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Code:
    """What one return code of a list means."""

    tag: str
    meaning: str


@dataclass(frozen=True)
class DnsblList:
    """One DNSBL zone and how to read its answers."""

    zone: str
    name: str = ""
    kind: Kind = "ip"
    ipv6: bool | None = None
    severity: Severity = "normal"
    default: bool = False
    url: str = ""
    codes: tuple[tuple[ipaddress.IPv4Network, Code], ...] = ()
    bitmask: tuple[tuple[int, Code], ...] = ()
    errors: tuple[tuple[ipaddress.IPv4Network, str], ...] = ()
    dead: str = ""
    test_listed: str = "test"
    test_unlisted: str = "invalid"
    key: str = ""
    keyed_zone: str = ""
    key_required: bool = False
    #: The zone actually queried: ``zone``, or the keyed zone, which holds a
    #: secret and so is never shown (repr=False keeps it out of messages too).
    query_zone: str = field(default="", repr=False, compare=False)
    label: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.query_zone:
            object.__setattr__(self, "query_zone", self.zone)
        if not self.label:
            object.__setattr__(self, "label", self.zone)

    @property
    def keyed(self) -> bool:
        """Asked through its keyed zone, whose name holds a secret."""
        return self.query_zone != self.zone

    def with_key(self, secret: str) -> "DnsblList":
        """This list queried through its keyed zone (e.g. Spamhaus DQS)."""
        return replace(
            self,
            query_zone=self.keyed_zone.replace("{key}", secret),
            label=f"{self.zone} ({self.key.upper()})",
        )

    def decode(self, answer: ipaddress.IPv4Address) -> Code | None:
        """The catalog meaning of a listing code: an exact or network entry,
        else the bits of the last octet for bitmask lists (SURBL, URIBL)."""
        code = _most_specific(self.codes, answer)
        if code is not None or not self.bitmask:
            return code
        last = int(answer) & 0xFF
        bits = [c for bit, c in self.bitmask if last & bit]
        if not bits:
            return None
        return Code("+".join(c.tag for c in bits), "; ".join(c.meaning for c in bits))

    def error(self, answer: ipaddress.IPv4Address) -> str | None:
        """The operator error this answer signals, if it is one."""
        return _most_specific(self.errors, answer)

    def lookup_url(self, target: str) -> str:
        """The lookup/delist page for ``target`` ("" when unknown)."""
        return self.url.replace("{address}", target).replace("{domain}", target)


def _most_specific(
    table: tuple[tuple[ipaddress.IPv4Network, T], ...], answer: ipaddress.IPv4Address
) -> T | None:
    matches = [(net.prefixlen, value) for net, value in table if answer in net]
    return max(matches, key=lambda m: m[0])[1] if matches else None


def normalize_zone(text: str, labels: int = 2) -> str:
    """A DNS name in canonical form (lower case, no trailing dot) with at
    least ``labels`` labels, or ValueError."""
    zone = text.strip().lower().removesuffix(".")
    parts = zone.split(".")
    if len(zone) > 180 or len(parts) < labels or not all(_LABEL.match(part) for part in parts):
        raise ValueError(f"{text!r} is not a DNS zone name")
    return zone


def _network(text: str, where: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(text)
    except ValueError:
        raise CatalogError(f"{where}: {text!r} is not an IPv4 address or network") from None


def _parse_list(raw: Mapping[str, Any], where: str, default: bool) -> DnsblList:
    unknown = set(raw) - _FIELDS
    if unknown:
        raise CatalogError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    try:
        zone = normalize_zone(str(raw["zone"]))
    except KeyError:
        raise CatalogError(f"{where}: missing 'zone'") from None
    except ValueError as exc:
        raise CatalogError(f"{where}: {exc}") from None
    where = f"{where} ({zone})"
    severity = raw.get("severity", "normal")
    if severity not in SEVERITIES:
        raise CatalogError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    kind = raw.get("kind", "ip")
    if kind not in ("ip", "domain"):
        raise CatalogError(f"{where}: kind must be 'ip' or 'domain'")
    ipv6 = raw.get("ipv6")
    if ipv6 is not None and not isinstance(ipv6, bool):
        raise CatalogError(f"{where}: ipv6 must be true or false")
    codes = []
    for answer, value in dict(raw.get("codes", {})).items():
        codes.append((_network(answer, where), _code(value, f"{where}: code {answer!r}")))
    bitmask = []
    for bit, value in dict(raw.get("bitmask", {})).items():
        if not (bit.isdigit() and int(bit) in (1, 2, 4, 8, 16, 32, 64, 128)):
            raise CatalogError(f"{where}: bitmask key {bit!r} must be a bit value 1..128")
        bitmask.append((int(bit), _code(value, f"{where}: bit {bit}")))
    errors = []
    for answer, meaning in dict(raw.get("errors", {})).items():
        if not isinstance(meaning, str):
            raise CatalogError(f"{where}: error {answer!r} must be a string")
        errors.append((_network(answer, where), meaning))
    key, keyed_zone = str(raw.get("key", "")), str(raw.get("keyed_zone", ""))
    if key and (key not in KEYS or "{key}" not in keyed_zone):
        raise CatalogError(
            f"{where}: key must be one of {', '.join(KEYS)} with a keyed_zone containing {{key}}"
        )
    tests = {}
    for name, fallback in (("test_listed", "test"), ("test_unlisted", "invalid")):
        try:
            tests[name] = normalize_zone(str(raw.get(name, fallback)), labels=1)
        except ValueError as exc:
            raise CatalogError(f"{where}: {name}: {exc}") from None
    return DnsblList(
        zone=zone,
        name=str(raw.get("name", "")),
        kind=cast(Kind, kind),
        ipv6=ipv6,
        severity=cast(Severity, severity),
        default=bool(raw.get("default", default)),
        url=str(raw.get("url", "")),
        codes=tuple(codes),
        bitmask=tuple(sorted(bitmask)),
        errors=tuple(errors),
        dead=str(raw.get("dead", "")),
        test_listed=tests["test_listed"],
        test_unlisted=tests["test_unlisted"],
        key=key,
        keyed_zone=keyed_zone,
        key_required=bool(raw.get("key_required", False)),
    )


def _code(value: object, where: str) -> Code:
    if not (
        isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)
    ):
        raise CatalogError(f"{where} must be [tag, meaning]")
    return Code(value[0], value[1])


def parse_lists(text: str, source: str, default: bool = False) -> tuple[DnsblList, ...]:
    """Parse catalog TOML; ``default`` is the ``default`` field's value when absent."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML: {exc}") from None
    entries = data.get("list")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{source}: no [[list]] entries")
    lists: dict[str, tuple[int, DnsblList]] = {}
    for i, entry in enumerate(entries, 1):
        lst = _parse_list(entry, f"{source}: list #{i}", default)
        if lst.zone in lists:  # one zone in two spellings: which one meant what?
            raise CatalogError(
                f"{source}: list #{i}: {lst.zone} is defined already in list #{lists[lst.zone][0]}"
            )
        lists[lst.zone] = (i, lst)
    return tuple(lst for _, lst in lists.values())


@dataclass(frozen=True)
class Catalog:
    """Lists by zone; zones below a dead zone count as dead too."""

    lists: Mapping[str, DnsblList]

    @classmethod
    def load(cls, extra: Iterable[DnsblList] = ()) -> "Catalog":
        builtin = parse_lists(CATALOG_PATH.read_text(encoding="utf-8"), "catalog.toml")
        return cls({lst.zone: lst for lst in (*builtin, *extra)})

    def get(self, zone: str) -> DnsblList:
        """The entry for ``zone``; an unknown zone gets a plain RFC 5782 entry."""
        if zone in self.lists:
            return self.lists[zone]
        for known in self.lists.values():
            if known.dead and zone.endswith("." + known.zone):
                return DnsblList(zone=zone, kind=known.kind, dead=known.dead)
        return DnsblList(zone=zone)

    def defaults(self, kind: Kind) -> tuple[DnsblList, ...]:
        return tuple(
            lst for lst in self.lists.values() if lst.default and not lst.dead and lst.kind == kind
        )

    def unkeyed(self, lst: DnsblList) -> tuple[DnsblList, str]:
        """``lst`` as a keyed list, and its key, when its zone carries a key in
        its first label (``-s <key>.zen.dq.spamhaus.net``, or the same zone in
        a lists file); else ``lst`` unchanged and "". The zone of a keyed list
        is its public name: it is what the output and the state file show."""
        secret, _, rest = lst.zone.partition(".")
        if not KEY.match(secret):
            return lst, ""
        services = [known for known in self.lists.values() if known.keyed_zone]
        for known in services:  # a keyed zone of the catalog: that list, with the key
            if known.keyed_zone.replace("{key}", secret) == lst.zone:
                return known.with_key(secret), secret
        for known in services:  # another zone of a keyed service: <key>.authbl.dq.spamhaus.net
            if rest.endswith("." + known.keyed_zone.split(".", 2)[-1]):
                label = f"{rest} ({known.key.upper()})"
                keyed = replace(lst, zone=rest, key=known.key, query_zone=lst.zone, label=label)
                return keyed, secret
        return lst, ""

    def table(self) -> str:
        """The catalog as an aligned table, for --show-lists."""
        rows = [("ZONE", "DEFAULT", "SEVERITY", "IPV6", "NAME / STATUS", "LOOKUP")]
        for lst in self.lists.values():
            if lst.dead:
                rows.append((lst.zone, "-", "-", "-", f"DEAD: {lst.dead}", "-"))
                continue
            ipv6 = {True: "yes", False: "no", None: "?"}[lst.ipv6]
            default = "yes" if lst.default else "no"
            rows.append((lst.zone, default, lst.severity, ipv6, lst.name, lst.url or "-"))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        return "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[5]
            for row in rows
        )
