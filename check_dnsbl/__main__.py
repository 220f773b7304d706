"""``python -m check_dnsbl``."""

from check_dnsbl.cli import main

main()
