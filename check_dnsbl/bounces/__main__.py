"""``python -m check_dnsbl.bounces``: check_dnsbl_bounces."""

from check_dnsbl.bounces.cli import main

main()
