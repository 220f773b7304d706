"""Files the admin names on the command line (--lists-file, --extra-opts,
key files): read as UTF-8 text, or one line saying why not."""

from pathlib import Path


class ConfigFileError(ValueError):
    """A named file that cannot be read; the message is one line."""


def read(path: Path | str, option: str) -> str:
    """The text of ``path``, given with ``option``; ConfigFileError otherwise."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not a UTF-8 text file"
        raise ConfigFileError(f"cannot read {option} {path}: {why}") from None
