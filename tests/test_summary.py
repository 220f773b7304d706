from check_dnsbl.summary import clean_text, cut, fit, headline, printable


def test_clean_text_strips_pipes_controls_and_bad_utf8() -> None:
    dirty = "Listed | see\x00 http://x\r\n\tnow\ufffd\x1b[31m"
    assert clean_text(dirty) == "Listed see http://x now[31m"


def test_cut_counts_utf8_bytes_and_never_splits_a_character() -> None:
    assert cut("a" * 5000, 300) == "a" * 297 + "..."
    assert cut("\u6f22" * 200, 300) == "\u6f22" * 99 + "..."  # 3 bytes each: 297 + 3
    assert cut("short", 300) == "short"


def test_redaction_comes_before_the_cut() -> None:
    """A TXT that echoes the query name after padding: the cut must not keep
    the key's first characters (E1)."""
    key = "Abc123xyz789Key"
    txt = "x" * 280 + f" {key}.zen.dq.spamhaus.net"
    assert printable(txt, (key,), 300) == "x" * 280 + " <key>.zen.dq.spa..."
    assert printable(f"{key[:5]}\x07{key[5:]}", (key,), 300) == "<key>"


def test_headline_drops_the_detail() -> None:
    assert headline("query refused: public/open resolver (use DQS) (127.255.255.254)") == (
        "query refused: public/open resolver"
    )


def test_long_output_is_bounded_with_a_note() -> None:
    lines = [f"line {i} " + "x" * 90 for i in range(200)]
    kept = fit(lines, 2000, ())
    assert sum(len(line) + 1 for line in kept) <= 2000
    assert kept[-1] == f"... {200 - len(kept) + 1} more lines not shown (output limit)"
    assert fit(lines[:3], 2000, ()) == lines[:3]


def test_lines_past_the_bound_are_never_worded() -> None:
    worded: list[int] = []

    def line(i: int) -> str:
        worded.append(i)
        return f"line {i} " + "x" * 90

    kept = fit([lambda i=i: line(i) for i in range(1000)], 2000, ())
    assert kept[-1] == f"... {1000 - len(kept) + 1} more lines not shown (output limit)"
    assert worded == list(range(len(kept)))  # the one that did not fit, and none after
