"""The Public Suffix List: the matching rules on a small list, the list's own
test vectors and a corpus of tricky names on the copy this host has, and
where that copy is found."""

import re
import sys
import types
from pathlib import Path

import pytest

from check_dnsbl import publicsuffix
from check_dnsbl.publicsuffix import DEBIAN_COPY, PublicSuffix, SuffixList, SuffixListError
from check_dnsbl.targets import parse_domain

DATA = Path(__file__).parent / "data"
SMALL = """\
// ===BEGIN ICANN DOMAINS===
uk
co.uk
jp
*.kawasaki.jp
!city.kawasaki.jp
ck
*.ck
!www.ck
io
cn
公司.cn
com
// ===END ICANN DOMAINS===
// ===BEGIN PRIVATE DOMAINS===
github.io
*.compute.example-cloud.com
uk.com
// ===END PRIVATE DOMAINS===
"""


@pytest.fixture(scope="module")
def small() -> SuffixList:
    return publicsuffix.parse(SMALL, "small")


@pytest.fixture(scope="module")
def psl() -> SuffixList:
    return publicsuffix.load()


@pytest.mark.parametrize(
    ("name", "registrable"),
    [
        ("www.example.co.uk", "example.co.uk"),
        ("example.uk", "example.uk"),
        # a wildcard, and its exception
        ("www.example.kawasaki.jp", "www.example.kawasaki.jp"),
        ("www.city.kawasaki.jp", "city.kawasaki.jp"),
        ("city.kawasaki.jp", "city.kawasaki.jp"),
        ("a.b.www.ck", "www.ck"),
        ("a.example.ck", "a.example.ck"),
        # private rules are suffixes too: each customer is a registrant
        ("www.foo.github.io", "foo.github.io"),
        ("a.b.compute.example-cloud.com", "a.b.compute.example-cloud.com"),
        ("shop.uk.com", "shop.uk.com"),
        # ... and the platform's own name is its ICANN-registered domain
        ("github.io", "github.io"),
        ("uk.com", "uk.com"),
        ("b.compute.example-cloud.com", "example-cloud.com"),
        # a rule in Unicode matches its A-label
        ("www.example.xn--55qx5d.cn", "example.xn--55qx5d.cn"),
        # a TLD not on the list is a suffix (the rule "*")
        ("a.b.example.internal", "example.internal"),
    ],
)
def test_rules(small: SuffixList, name: str, registrable: str) -> None:
    assert small.registrable(name) == registrable


@pytest.mark.parametrize("name", ["co.uk", "uk", "example.kawasaki.jp", "foo.ck", "xn--55qx5d.cn"])
def test_an_icann_suffix_is_nobodys_domain(small: SuffixList, name: str) -> None:
    with pytest.raises(PublicSuffix):
        small.registrable(name)


def _vectors() -> list[tuple[str, str | None]]:
    text = (DATA / "test_psl.txt").read_text(encoding="utf-8")
    found = re.findall(r"^checkPublicSuffix\((\S+), (\S+)\);$", text, re.M)
    unquote = {"null": None}
    return [
        (unquote.get(a, a.strip("'")), unquote.get(b, b.strip("'")))  # type: ignore[misc]
        for a, b in found
        if a != "null"
    ]


VECTORS = _vectors()


def test_the_official_vectors_are_all_read() -> None:
    assert len(VECTORS) == 77
    assert ("www.食狮.中国", "食狮.中国") in VECTORS


@pytest.mark.parametrize(("given", "expected"), VECTORS)
def test_the_lists_own_test_vectors(psl: SuffixList, given: str, expected: str | None) -> None:
    """publicsuffix.org's tests/test_psl.txt, through -d's whole parsing:
    case, a leading dot, Unicode and punycode. One deliberate difference:
    uk.com is a private suffix (CentralNic's), so given alone it is checked
    as the ICANN-registered domain it also is."""
    if given == "uk.com":
        expected = "uk.com"
    if expected is None:
        with pytest.raises(ValueError, match=r"public suffix|one label|empty label"):
            parse_domain(given, psl)
    else:
        import idna

        assert parse_domain(given, psl).name == idna.encode(expected, uts46=True).decode()


def _corpus() -> list[tuple[str, str]]:
    lines = (DATA / "psl-corpus.txt").read_text(encoding="utf-8").splitlines()
    return [tuple(ln.split()) for ln in lines if ln and not ln.startswith("#")]  # type: ignore[misc]


CORPUS = _corpus()


def test_the_corpus_is_read_whole() -> None:
    assert len(CORPUS) == 135
    assert ("z.k12.ca.us", "z.k12.ca.us") in CORPUS


@pytest.mark.parametrize(("name", "registrable"), CORPUS)
def test_tricky_names_agree_with_the_list(psl: SuffixList, name: str, registrable: str) -> None:
    assert psl.registrable(name) == registrable


def test_the_issues_examples(psl: SuffixList) -> None:
    assert [psl.registrable(n) for n in ("foo.github.io", "z.k12.ca.us")] == [
        "foo.github.io",
        "z.k12.ca.us",
    ]
    assert psl.registrable("www.city.kawasaki.jp") == "city.kawasaki.jp"
    with pytest.raises(PublicSuffix):
        psl.registrable("co.uk")


# --- where the list comes from ---------------------------------------------------


def test_pypis_copy_comes_before_debians(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "publicsuffixlist", None)  # not installed
    assert publicsuffix.copies() == [DEBIAN_COPY]
    fake = types.ModuleType("publicsuffixlist")
    fake.PSLFILE = "/site-packages/publicsuffixlist/public_suffix_list.dat"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "publicsuffixlist", fake)
    assert publicsuffix.copies() == [Path(fake.PSLFILE), DEBIAN_COPY]  # type: ignore[attr-defined]


def test_the_first_copy_found_is_read(tmp_path: Path) -> None:
    copy = tmp_path / "list.dat"
    copy.write_text(SMALL, encoding="utf-8")
    psl = publicsuffix.load([tmp_path / "missing.dat", copy, DEBIAN_COPY])
    assert (psl.source, psl.registrable("a.b.example.co.uk")) == (str(copy), "example.co.uk")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no Public Suffix List on this host (-d needs it for the registrable domain): "
               "install Debian's package publicsuffix or PyPI's publicsuffixlist"),
        (b"<html>404</html>", "{path} is not the Public Suffix List (no ICANN section)"),
        (b"// ===BEGIN ICANN DOMAINS===\n\xff\n", "cannot read the Public Suffix List {path}: "
                                                  "not UTF-8"),
        ("dir", "cannot read the Public Suffix List {path}: Is a directory"),
    ],
)  # fmt: skip
def test_no_usable_copy_is_one_line(
    tmp_path: Path, content: bytes | str | None, message: str
) -> None:
    path = tmp_path / "list.dat"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(SuffixListError) as info:
        publicsuffix.load([path])
    assert str(info.value) == message.format(path=path)
