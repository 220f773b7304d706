"""Write debian/changelog from CHANGELOG.md: one changelog, one version.

The version lives in check_dnsbl/__init__.py; CHANGELOG.md records each
release; `make deb` runs this to give dpkg the same history in its format.
Fails (exit 1) when the newest CHANGELOG entry is not ``__version__``.
"""

import email.utils
import re
import sys
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from check_dnsbl import __version__  # noqa: E402

CHANGELOG = ROOT / "CHANGELOG.md"
CONTROL = ROOT / "debian" / "control"
HEADING = re.compile(r"^## (\d+(?:\.\d+)+) - (\d{4}-\d{2}-\d{2})$", re.MULTILINE)


@dataclass(frozen=True)
class Release:
    version: str
    date: str
    items: tuple[str, ...]


def releases(text: str) -> list[Release]:
    """The ``## VERSION - DATE`` sections, newest first, with their ``-`` items."""
    found = []
    parts = HEADING.split(text)
    for version, date, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        items = [" ".join(item.split()) for item in re.split(r"^- ", body, flags=re.M)[1:]]
        found.append(Release(version, date, tuple(items)))
    return found


def control_field(name: str) -> str:
    match = re.search(rf"^{name}: (.+)$", CONTROL.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"no {name} in {CONTROL}"
    return match.group(1)


def debian_changelog(found: list[Release], source: str, maintainer: str) -> str:
    entries = []
    for release in found:
        when = datetime.strptime(release.date, "%Y-%m-%d").replace(hour=12, tzinfo=UTC)
        items = "\n".join(
            textwrap.fill(item, 78, initial_indent="  * ", subsequent_indent="    ")
            for item in release.items
        )
        entries.append(
            f"{source} ({release.version}) unstable; urgency=medium\n\n{items}\n\n"
            f" -- {maintainer}  {email.utils.format_datetime(when)}\n"
        )
    return "\n".join(entries)


def main() -> int:
    found = releases(CHANGELOG.read_text(encoding="utf-8"))
    if not found or found[0].version != __version__:
        newest = found[0].version if found else "none"
        print(f"CHANGELOG.md's newest release is {newest}, __version__ is {__version__}")
        return 1
    sys.stdout.write(debian_changelog(found, control_field("Source"), control_field("Maintainer")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
