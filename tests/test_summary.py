from check_dnsbl.summary import clean_text, headline


def test_clean_text_strips_pipes_controls_and_bad_utf8() -> None:
    dirty = "Listed | see\x00 http://x\r\n\tnow\ufffd\x1b[31m"
    assert clean_text(dirty) == "Listed see http://x now[31m"


def test_clean_text_bounds_length() -> None:
    assert clean_text("a" * 5000) == "a" * 297 + "..."


def test_headline_drops_the_detail() -> None:
    assert headline("query refused: public/open resolver (use DQS) (127.255.255.254)") == (
        "query refused: public/open resolver"
    )


def test_long_output_is_bounded_with_a_note() -> None:
    from check_dnsbl.summary import bounded

    lines = [f"line {i} " + "x" * 90 for i in range(200)]
    kept = bounded(lines, 2000)
    assert sum(len(line) + 1 for line in kept) <= 2000
    assert kept[-1] == f"... {200 - len(kept) + 1} more lines not shown (output limit)"
    assert bounded(lines[:3], 2000) == lines[:3]
