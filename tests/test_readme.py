"""The README is the front door: its option table must match --help."""

import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))

import readme


def test_option_table_matches_the_parser() -> None:
    text = readme.README.read_text(encoding="utf-8")
    assert readme.render(text) == text, "run `make readme`"
