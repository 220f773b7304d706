"""The command line contract: one line and exit 3 for every usage error."""

import importlib.metadata
from pathlib import Path

import pytest

import check_dnsbl
from tests.conftest import check_dnsbl as run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to check: give -H ADDRESS, --mx DOMAIN or -d DOMAIN"),
        (["-H", "300.1.1.1"], "'300.1.1.1' is not an IP address or host name"),
        (["-H", "192.0.2.1", "-s", "not a zone"], "'not a zone' is not a DNS zone name"),
        (
            ["-H", "192.0.2.1", "-w", "x"],
            "argument -w/--warning: 'x' is not a whole number from 1 to 1000000",
        ),
        (
            ["-H", "192.0.2.1", "-w", "0"],
            "argument -w/--warning: '0' is not a whole number from 1 to 1000000",
        ),
        (["-H", "192.0.2.1", "-w", "3", "-c", "2"], "-c must not be lower than -w"),
        (["-H", "192.0.2.1", "-t", "0"], "argument -t/--timeout: '0' is not a number of seconds"),
        (
            ["-H", "192.0.2.1", "-t", "nan"],
            "argument -t/--timeout: 'nan' is not a number of seconds",
        ),
        (["-H", "192.0.2.1", "-n", "dns.google"], "'dns.google' is not an IP address"),
        (["-H", "192.0.2.1", "--bogus"], "unrecognized arguments: --bogus"),
        (["-H"], "argument -H/--host/--hostname: expected one argument"),
        (["-H", "192.0.2.1", "--lists-file", "/nonexistent"], "cannot read --lists-file"),
        (
            ["-H", "192.0.2.1", "--perfdata-per-list", "-s", "a.b.test", "-s", "a_b.test"],
            "--perfdata-per-list: a.b.test and a_b.test would share the label list_a_b_test",
        ),
    ],
)
def test_usage_errors_are_one_line_unknown(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 3
    assert len(result.lines) == 1
    assert result.first_line.startswith("DNSBL UNKNOWN - ")
    assert message in result.first_line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-d", "192.0.2.1"], "'192.0.2.1' is an IP address: -d takes a domain; check addresses "
                              "with -H"),
        (["-d", "co.uk"], "'co.uk' is a public suffix (Public Suffix List): nobody's domain; "
                          "give a domain registered under it, such as example.co.uk"),
        (["-d", "xn--zz.com"], "'xn--zz.com' is not a domain name: 'xn--zz' is not a valid IDNA "
                               "2008 A-label"),
        (["--mx", "postmaster@" + "a" * 64 + ".example"],
         f"'postmaster@{'a' * 49}...' is not a domain name: the label aaaaaaaaaaaaaaaaaaaa... "
         "has 64 characters (at most 63)"),
    ],
)  # fmt: skip
def test_names_that_cannot_be_checked_say_what_to_give(args: list[str], message: str) -> None:
    result = run(*args)
    assert (result.returncode, result.lines) == (3, [f"DNSBL UNKNOWN - {message} (see --help)"])


def test_bad_lists_file(tmp_path: Path) -> None:
    bad = tmp_path / "lists.toml"
    bad.write_text('[[list]]\nzone = "a.test"\nseverity = "loud"\n')
    result = run("-H", "192.0.2.1", "--lists-file", str(bad))
    assert (result.returncode, len(result.lines)) == (3, 1)
    assert "list #1 (a.test): severity must be one of critical, normal, info" in result.first_line


def test_version_is_the_package_version() -> None:
    result = run("-V")
    assert (result.returncode, result.stdout) == (3, f"check_dnsbl {check_dnsbl.__version__}\n")
    try:
        installed = importlib.metadata.version("check_dnsbl")
    except importlib.metadata.PackageNotFoundError:
        return  # run from the source tree (Debian's python): nothing else to compare
    assert installed == check_dnsbl.__version__


def test_help_lists_every_option_and_exits_unknown() -> None:
    result = run("--help")
    assert result.returncode == 3
    for option in (
        "--hostname",
        "--list",
        "--lists-file",
        "--nameserver",
        "--warning",
        "--critical",
        "--timeout",
        "--query-timeout",
        "--retries",
        "--workers",
        "--errors-warning",
        "--errors-critical",
        "--show-lists",
        "--version",
    ):
        assert option in result.stdout


def test_show_lists_marks_defaults_and_dead_lists() -> None:
    result = run("--show-lists")
    assert result.returncode == 3
    rows = {line.split()[0]: line.split() for line in result.lines[1:]}
    assert rows["zen.spamhaus.org"][1:4] == ["yes", "critical", "yes"]
    assert rows["b.barracudacentral.org"][1:4] == ["yes", "critical", "no"]
    assert rows["sbl.spamhaus.org"][1] == "no"
    assert " DEAD: SORBS was shut down on 5 June 2024 " in result.stdout


def test_show_lists_shows_kind_and_each_codes_severity() -> None:
    result = run("--show-lists")
    lines = result.lines
    dnswl = next(i for i, line in enumerate(lines) if line.startswith("list.dnswl.org "))
    assert lines[dnswl].split()[1:6] == ["no", "-", "yes", "ip", "allowlist"]
    assert "    127.0.15.0/24      allowlist  category 15: email marketing providers" in lines
    assert (
        "    last octet 1       allowlist  trusted (low): trust low: reduce the chance of "
        "false positives" in lines
    )
    dbl = next(i for i, line in enumerate(lines) if line.startswith("dbl.spamhaus.org "))
    assert lines[dbl].split()[1:6] == ["yes", "critical", "?", "domain", "blocklist"]
    assert (
        "    127.0.1.103        info      abused redirector: abused legitimate redirector "
        "domain, spammed" in lines
    )
    assert "    127.0.1.2          critical  spam: low-reputation domain (spam)" in lines
    assert (
        "    bit 1              error     query refused (see https://uribl.com/refused.shtml)"
        in lines
    )
    sem6 = next(line for line in lines if line.startswith("bl.ipv6.spameatingmonkey.net "))
    assert sem6.split()[1:6] == ["no", "normal", "only", "ip", "blocklist"]
    assert any(line.startswith("    source: Spamhaus: docs.spamhaus.com") for line in lines)
