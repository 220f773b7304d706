"""check_dnsbl_bounces' way in and out: argv -> options -> the Check ->
stdout and an exit code, with check_dnsbl's exit handling (``cli.parsed``,
``cli.finish``): one line of UNKNOWN for a usage error, never a traceback,
nothing on stderr, the output bounded by ``summary.render``."""

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from check_dnsbl.bounces.options import parse
from check_dnsbl.cli import finish, parsed

if TYPE_CHECKING:
    import nagiosplugin

PREFIX = "BOUNCES"


def main(argv: Sequence[str] | None = None) -> NoReturn:
    settings = parsed(parse, sys.argv[1:] if argv is None else argv, "", PREFIX)

    def build() -> "nagiosplugin.Check":
        import nagiosplugin

        from check_dnsbl.bounces import contexts
        from check_dnsbl.bounces.resource import Bounces
        from check_dnsbl.bounces.summary import BouncesSummary

        return nagiosplugin.Check(
            Bounces(settings), *contexts.build(settings), BouncesSummary(settings)
        )

    finish(build, settings.timeout, (), PREFIX)
