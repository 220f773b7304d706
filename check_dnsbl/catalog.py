"""The list catalog: what each DNSBL zone is and what its answers mean.

The known lists are data (``catalog.toml`` in this package), not code; a
``--lists-file`` uses the same TOML format and adds to or overrides it.
"""

import ipaddress
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

Severity = Literal["critical", "normal", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "normal", "info")
CATALOG_PATH = Path(__file__).with_name("catalog.toml")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
T = TypeVar("T")
_FIELDS = {"zone", "name", "kind", "ipv6", "severity", "default", "url", "codes", "errors", "dead"}


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
    kind: Literal["ip"] = "ip"
    ipv6: bool | None = None
    severity: Severity = "normal"
    default: bool = False
    url: str = ""
    codes: tuple[tuple[ipaddress.IPv4Network, Code], ...] = ()
    errors: tuple[tuple[ipaddress.IPv4Network, str], ...] = ()
    dead: str = ""
    known: bool = field(default=True, compare=False)

    def decode(self, answer: ipaddress.IPv4Address) -> Code | None:
        """The catalog meaning of a listing code, most specific entry first."""
        return _most_specific(self.codes, answer)

    def error(self, answer: ipaddress.IPv4Address) -> str | None:
        """The operator error this answer signals, if it is one."""
        return _most_specific(self.errors, answer)

    def lookup_url(self, address: str) -> str:
        """The lookup/delist page for ``address`` ("" when unknown)."""
        return self.url.replace("{address}", address)


def _most_specific(
    table: tuple[tuple[ipaddress.IPv4Network, T], ...], answer: ipaddress.IPv4Address
) -> T | None:
    matches = [(net.prefixlen, value) for net, value in table if answer in net]
    return max(matches, key=lambda m: m[0])[1] if matches else None


def normalize_zone(text: str) -> str:
    """A zone name in canonical form (lower case, no trailing dot), or ValueError."""
    zone = text.strip().lower().removesuffix(".")
    labels = zone.split(".")
    if len(zone) > 180 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
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
    if raw.get("kind", "ip") != "ip":
        raise CatalogError(f"{where}: kind must be 'ip'")
    ipv6 = raw.get("ipv6")
    if ipv6 is not None and not isinstance(ipv6, bool):
        raise CatalogError(f"{where}: ipv6 must be true or false")
    codes = []
    for answer, value in dict(raw.get("codes", {})).items():
        if not (
            isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)
        ):
            raise CatalogError(f"{where}: code {answer!r} must be [tag, meaning]")
        codes.append((_network(answer, where), Code(value[0], value[1])))
    errors = []
    for answer, meaning in dict(raw.get("errors", {})).items():
        if not isinstance(meaning, str):
            raise CatalogError(f"{where}: error {answer!r} must be a string")
        errors.append((_network(answer, where), meaning))
    return DnsblList(
        zone=zone,
        name=str(raw.get("name", "")),
        ipv6=ipv6,
        severity=cast(Severity, severity),
        default=bool(raw.get("default", default)),
        url=str(raw.get("url", "")),
        codes=tuple(codes),
        errors=tuple(errors),
        dead=str(raw.get("dead", "")),
    )


def parse_lists(text: str, source: str, default: bool = False) -> tuple[DnsblList, ...]:
    """Parse catalog TOML; ``default`` is the ``default`` field's value when absent."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML: {exc}") from None
    entries = data.get("list")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{source}: no [[list]] entries")
    return tuple(
        _parse_list(entry, f"{source}: list #{i}", default) for i, entry in enumerate(entries, 1)
    )


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
                return DnsblList(zone=zone, dead=known.dead)
        return DnsblList(zone=zone, known=False)

    def defaults(self) -> tuple[DnsblList, ...]:
        return tuple(lst for lst in self.lists.values() if lst.default and not lst.dead)
