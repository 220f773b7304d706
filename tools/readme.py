"""Keep the README's option table true: regenerate it from the plugin's parser.

`make readme` rewrites the block between the markers; a test fails when the
README and --help disagree. --extra-opts is expanded before the parser runs,
so its row comes from the --help epilog, which documents it.
"""

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from check_dnsbl.options import build_parser  # noqa: E402

README = ROOT / "README.md"
START, END = "<!-- options:start (make readme) -->", "<!-- options:end -->"


def option_table() -> str:
    """A Markdown table with every option's flags, argument and --help text."""
    rows = ["| option | meaning |", "|---|---|"]
    for action in build_parser()._actions:
        flags = ", ".join(f"`{flag}`" for flag in action.option_strings)
        if action.metavar and not isinstance(action, argparse._CountAction):
            flags += f" `{action.metavar}`"
        rows.append(f"| {flags} | {(action.help or '').replace('|', '/')} |")
    # before --show-lists: the options that print and exit come last
    rows.insert(next(i for i, r in enumerate(rows) if "`--show-lists`" in r), extra_opts_row())
    return "\n".join(rows)


def extra_opts_row() -> str:
    """The row for ``--extra-opts=ARG text...`` in the --help epilog."""
    epilog = " ".join((build_parser().epilog or "").split())
    match = re.search(r"(--extra-opts)=(\S+) (.+)$", epilog)
    assert match, "--help no longer documents --extra-opts"
    flag, arg, text = match.groups()
    return f"| `{flag}` `{arg}` | {text.replace('|', '/')} |"


def render(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{option_table()}\n{END}{tail}"


if __name__ == "__main__":
    README.write_text(render(README.read_text(encoding="utf-8")), encoding="utf-8")
