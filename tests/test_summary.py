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
