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
#: How severe a severity is: the most severe code of an answer decides.
_RANK: dict[str, int] = {"info": 0, "normal": 1, "critical": 2}
#: What a hit means: a blocklist's is a listing; an allowlist's (DNSWL) or a
#: reputation zone's (Mailspike rep) is good news or context, never a listing.
Role = Literal["blocklist", "allowlist", "reputation"]
ROLES: tuple[Role, ...] = ("blocklist", "allowlist", "reputation")
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
    "role",
    "ipv4",
    "last_octet",
    "error_bits",
    "source",
}
_BITS = (1, 2, 4, 8, 16, 32, 64, 128)
Kind = Literal["ip", "domain"]


class CatalogError(ValueError):
    """A list definition that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Code:
    """What one return code of a list means; ``severity`` overrides the
    list's (None: the list's)."""

    tag: str
    meaning: str
    severity: Severity | None = None


def most_severe(severities: Iterable[Severity]) -> Severity:
    """The most severe of ``severities`` ("info" when there are none)."""
    return max(severities, key=_RANK.__getitem__, default="info")


@dataclass(frozen=True)
class DnsblList:
    """One DNSBL zone and how to read its answers."""

    zone: str
    name: str = ""
    kind: Kind = "ip"
    role: Role = "blocklist"
    ipv4: bool = True
    ipv6: bool | None = None
    severity: Severity = "normal"
    default: bool = False
    url: str = ""
    codes: tuple[tuple[ipaddress.IPv4Network, Code], ...] = ()
    bitmask: tuple[tuple[int, Code], ...] = ()
    last_octet: tuple[tuple[int, Code], ...] = ()
    errors: tuple[tuple[ipaddress.IPv4Network, str], ...] = ()
    error_bits: tuple[tuple[int, str], ...] = ()
    source: str = ""
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

    @property
    def blocks(self) -> bool:
        """Its hits are listings; an allowlist's or reputation zone's never are."""
        return self.role == "blocklist"

    @property
    def documented(self) -> bool:
        """The catalog knows its codes: any other code is an unknown code."""
        return bool(self.codes or self.bitmask or self.last_octet)

    def decode(self, answer: ipaddress.IPv4Address) -> Code | None:
        """The catalog meaning of a code, with its severity: an exact or
        network entry, else the bits of the last octet (SURBL, URIBL); and
        the last octet's own meaning (DNSWL's trust level). Several parts:
        the most severe decides."""
        code = _most_specific(self.codes, answer)
        last = int(answer) & 0xFF
        parts = [code] if code else [c for bit, c in self.bitmask if last & bit]
        parts += [c for value, c in self.last_octet if value == last]
        if not parts:
            return None
        return Code(
            "+".join(c.tag for c in parts if c.tag),
            "; ".join(c.meaning for c in parts),
            most_severe(c.severity or self.severity for c in parts),
        )

    def severity_of(self, answer: ipaddress.IPv4Address) -> Severity:
        """How severe a listing with this code is: its own severity, else the
        list's (an unknown code too)."""
        code = self.decode(answer)
        return code.severity if code and code.severity else self.severity

    def error(self, answer: ipaddress.IPv4Address) -> str | None:
        """The operator error this answer signals, if it is one: an exact or
        network entry, or an error bit of the last octet (URIBL's and
        SURBL's bit 1: any answer with it set is a refusal)."""
        found = _most_specific(self.errors, answer)
        if found is None:
            last = int(answer) & 0xFF
            found = next((meaning for bit, meaning in self.error_bits if last & bit), None)
        return found

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


def _table(raw: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    """The TOML table ``name`` of a list (empty when absent)."""
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise CatalogError(f"{where}: {name} must be a table ([list.{name}])")
    return table


def _bits(raw: Mapping[str, Any], name: str, where: str) -> list[tuple[int, Any]]:
    """A table keyed by bit values of the answer's last octet."""
    table = []
    for bit, value in _table(raw, name, where).items():
        if not (bit.isdigit() and int(bit) in _BITS):
            raise CatalogError(f"{where}: {name} key {bit!r} must be a bit value 1..128")
        table.append((int(bit), value))
    return sorted(table, key=lambda entry: entry[0])


def _parse_list(raw: Mapping[str, Any], where: str, default: bool) -> DnsblList:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: must be a table ([[list]])")
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
    role = raw.get("role", "blocklist")
    if role not in ROLES:
        raise CatalogError(f"{where}: role must be one of {', '.join(ROLES)}")
    for flag in ("ipv4", "ipv6"):
        if flag in raw and not isinstance(raw[flag], bool):
            raise CatalogError(f"{where}: {flag} must be true or false")
    if raw.get("ipv4") is False and raw.get("ipv6") is not True:
        raise CatalogError(f"{where}: ipv4 = false (IPv6 only) needs ipv6 = true")
    codes = []
    for answer, value in _table(raw, "codes", where).items():
        codes.append((_network(answer, where), _code(value, f"{where}: code {answer!r}")))
    bitmask = [(bit, _code(v, f"{where}: bit {bit}")) for bit, v in _bits(raw, "bitmask", where)]
    last_octet = []
    for value, code in _table(raw, "last_octet", where).items():
        if not (value.isdigit() and int(value) <= 255):
            raise CatalogError(f"{where}: last_octet key {value!r} must be 0..255")
        last_octet.append((int(value), _code(code, f"{where}: last octet {value}")))
    errors = []
    for answer, meaning in _table(raw, "errors", where).items():
        if not isinstance(meaning, str):
            raise CatalogError(f"{where}: error {answer!r} must be a string")
        errors.append((_network(answer, where), meaning))
    error_bits = _bits(raw, "error_bits", where)
    if not all(isinstance(meaning, str) for _, meaning in error_bits):
        raise CatalogError(f"{where}: an error bit's meaning must be a string")
    if role != "blocklist" and (
        "severity" in raw or any(c.severity for _, c in (*codes, *bitmask, *last_octet))
    ):
        raise CatalogError(f"{where}: an {role}'s hits are never listings: it has no severity")
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
        role=cast(Role, role),
        ipv4=raw.get("ipv4", True),
        ipv6=raw.get("ipv6"),
        severity=cast(Severity, severity),
        default=bool(raw.get("default", default)),
        url=str(raw.get("url", "")),
        codes=tuple(codes),
        bitmask=tuple(bitmask),
        last_octet=tuple(sorted(last_octet, key=lambda entry: entry[0])),
        errors=tuple(errors),
        error_bits=tuple(error_bits),
        source=str(raw.get("source", "")),
        dead=str(raw.get("dead", "")),
        test_listed=tests["test_listed"],
        test_unlisted=tests["test_unlisted"],
        key=key,
        keyed_zone=keyed_zone,
        key_required=bool(raw.get("key_required", False)),
    )


def _code(value: object, where: str) -> Code:
    """``[tag, meaning]`` or ``[tag, meaning, severity]``."""
    if not (
        isinstance(value, list) and len(value) in (2, 3) and all(isinstance(v, str) for v in value)
    ):
        raise CatalogError(f"{where} must be [tag, meaning] or [tag, meaning, severity]")
    if len(value) == 3 and value[2] not in SEVERITIES:
        raise CatalogError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    return Code(value[0], value[1], cast(Severity, value[2]) if len(value) == 3 else None)


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
        """The catalog for --show-lists: an aligned row per list (its kind:
        what it is asked about and what a hit means), then, indented, what
        each of its codes means with that code's severity, its errors, and
        the source of its code table."""
        rows = [("ZONE", "DEFAULT", "SEVERITY", "IPV6", "KIND", "NAME / STATUS", "LOOKUP")]
        details: list[list[str]] = []
        for lst in self.lists.values():
            if lst.dead:
                rows.append((lst.zone, "-", "-", "-", lst.kind, f"DEAD: {lst.dead}", "-"))
                details.append([])
                continue
            ipv6 = {True: "yes", False: "no", None: "?"}[lst.ipv6] if lst.ipv4 else "only"
            default = "yes" if lst.default else "no"
            severity = lst.severity if lst.blocks else "-"
            kind = f"{lst.kind} {lst.role}"
            rows.append((lst.zone, default, severity, ipv6, kind, lst.name, lst.url or "-"))
            details.append(_code_lines(lst))
        widths = [max(len(row[i]) for row in rows) for i in range(6)]
        lines = []
        for row, more in zip(rows, [[], *details], strict=True):
            cells = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            lines += [f"{cells}  {row[6]}", *more]
        return "\n".join(lines)


def _code_lines(lst: DnsblList) -> list[str]:
    """A list's code table for --show-lists, one indented line per code."""
    entries: list[tuple[str, str, Code | str]] = [
        *((str(net.network_address) if net.prefixlen == 32 else str(net), "", c)
          for net, c in lst.codes),
        *((f"bit {bit}", "", c) for bit, c in lst.bitmask),
        *((f"last octet {value}", "", c) for value, c in lst.last_octet),
        *((str(net.network_address) if net.prefixlen == 32 else str(net), "error", e)
          for net, e in lst.errors),
        *((f"bit {bit}", "error", e) for bit, e in lst.error_bits),
    ]  # fmt: skip
    lines = []
    for answer, error, entry in entries:
        if isinstance(entry, str):
            lines.append(f"    {answer:<18} {error:<8}  {entry}")
            continue
        severity = (entry.severity or lst.severity) if lst.blocks else lst.role
        tag = f"{entry.tag}: " if entry.tag else ""
        lines.append(f"    {answer:<18} {severity:<8}  {tag}{entry.meaning}")
    if lst.source:
        lines.append(f"    source: {lst.source}")
    return lines
