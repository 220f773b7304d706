"""Keep the README's option table true: regenerate it from the plugin's parser.

`make readme` rewrites the block between the markers; a test fails when the
README and --help disagree.
"""

import argparse
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
    return "\n".join(rows)


def render(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{option_table()}\n{END}{tail}"


if __name__ == "__main__":
    README.write_text(render(README.read_text(encoding="utf-8")), encoding="utf-8")
