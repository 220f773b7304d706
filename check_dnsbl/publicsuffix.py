"""The Public Suffix List (publicsuffix.org): the suffixes under which others
register names (com, co.uk, k12.ca.us, city.kawasaki.jp's *.kawasaki.jp,
github.io), and so the registrable domain of a name: what domain lists judge
("we strip all hostparts", URIBL).

The list is data that changes every week, so it is read from the host, never
copied here: PyPI's ``publicsuffixlist`` ships a copy with each of its
releases, Debian's ``publicsuffix`` package the other
(/usr/share/publicsuffix/public_suffix_list.dat, updated with Debian). The
matching is the list's own algorithm, small enough to keep here so that it
behaves the same on both.

Private rules (github.io, blogspot.com, s3.amazonaws.com) are suffixes like
the ICANN ones: each customer of such a platform holds a name of its own,
and domain lists list foo.github.io, never github.io for all its customers.
The platform's own name (github.io) is registered under an ICANN suffix,
so it can be checked by itself; an ICANN suffix (co.uk) cannot.
"""

from dataclasses import dataclass
from pathlib import Path

#: Debian's copy (package publicsuffix).
DEBIAN_COPY = Path("/usr/share/publicsuffix/public_suffix_list.dat")
_ICANN_BEGIN, _ICANN_END = "// ===BEGIN ICANN DOMAINS===", "// ===END ICANN DOMAINS==="
_PRIVATE_BEGIN = "// ===BEGIN PRIVATE DOMAINS==="


class SuffixListError(ValueError):
    """No usable copy of the list; the message is one line."""


class PublicSuffix(ValueError):
    """The name is itself a public suffix: nobody's domain to check."""


@dataclass(frozen=True)
class Rules:
    """One section of the list, every name in A-labels: plain rules
    (``co.uk``), wildcards by their parent (``*.ck`` as ``ck``) and
    exceptions (``!www.ck`` as ``www.ck``)."""

    plain: frozenset[str]
    wildcard: frozenset[str]
    exception: frozenset[str]

    def suffix_labels(self, labels: list[str]) -> int:
        """How many of ``labels`` (the last ones) the prevailing rule makes
        the public suffix: an exception beats every other rule, then the
        longest rule wins, and an unlisted TLD is a suffix (the rule ``*``)."""
        names = [".".join(labels[i:]) for i in range(len(labels))]  # longest first
        for name in names:
            if name in self.exception:
                return name.count(".")
        for name in names:
            parent = name.partition(".")[2]
            if name in self.plain or (parent and parent in self.wildcard):
                return name.count(".") + 1
        return 1


@dataclass(frozen=True)
class SuffixList:
    """The list: its ICANN section, and every rule (ICANN and private)."""

    icann: Rules
    every: Rules
    source: str  # where it was read: said in a message that needs it

    def registrable(self, name: str) -> str:
        """The registrable domain of ``name`` (A-labels, lower case, no final
        dot): one label more than its public suffix. A private suffix given
        alone is its platform's domain under ICANN's rules; PublicSuffix for
        an ICANN suffix."""
        labels = name.split(".")
        for rules in (self.every, self.icann):
            suffix = rules.suffix_labels(labels)
            if suffix < len(labels):
                return ".".join(labels[-suffix - 1 :])
        raise PublicSuffix(name)


def _a_label(label: str) -> str:
    """A rule's label as the DNS has it: the list writes IDNs in Unicode (in
    the normalised form IDNA 2008 needs), so plain punycode is their A-label."""
    return label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")


def parse(text: str, source: str) -> SuffixList:
    """The list from its text (publicsuffix.org/list/ format: a rule is a
    line's first word; ``//`` comments; the sections marked)."""
    if _ICANN_BEGIN not in text:
        raise SuffixListError(f"{source} is not the Public Suffix List (no ICANN section)")
    sections: dict[bool, tuple[set[str], set[str], set[str]]] = {
        icann: (set(), set(), set()) for icann in (True, False)
    }
    icann = True
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("//"):
            if line in (_ICANN_BEGIN, _ICANN_END, _PRIVATE_BEGIN):
                icann = line == _ICANN_BEGIN
            continue
        rule = line.split(maxsplit=1)[0].lower()
        if not rule.isascii():
            rule = ".".join(map(_a_label, rule.split(".")))
        plain, wildcard, exception = sections[icann]
        if rule.startswith("!"):
            exception.add(rule[1:])
        elif rule.startswith("*."):
            wildcard.add(rule[2:])
        else:
            plain.add(rule)
    ours, theirs = sections[True], sections[False]
    return SuffixList(
        icann=Rules(*map(frozenset, ours)),
        every=Rules(*(frozenset(a | b) for a, b in zip(ours, theirs, strict=True))),
        source=source,
    )


def copies() -> list[Path]:
    """Where the list may be on this host, best first: the copy of the PyPI
    release installed with this package, then Debian's."""
    try:
        import publicsuffixlist  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return [DEBIAN_COPY]
    return [Path(publicsuffixlist.PSLFILE), DEBIAN_COPY]


def load(paths: list[Path] | None = None) -> SuffixList:
    """The first copy of ``paths`` (default: ``copies()``) that exists;
    SuffixListError when none does or the one found is unreadable."""
    for path in copies() if paths is None else paths:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            raise SuffixListError(f"cannot read the Public Suffix List {path}: {why}") from None
        return parse(text, str(path))
    raise SuffixListError(
        "no Public Suffix List on this host (-d needs it for the registrable domain): "
        "install Debian's package publicsuffix or PyPI's publicsuffixlist"
    )
