"""Pure: a remote server's reply -> the blocklist it cites, if it cites one.

The patterns are built from receivers' own published rejection texts (each
rule names its source; tests/test_bounces_corpus.py holds the texts). A
rule names the list and, for a receiver's private list, the receiver that
runs it: such a list is not a DNSBL zone, so no checker can ask it, and the
receiver's words are the only evidence there is.

Only a text that cites a list counts: "blocked" alone, a bad PTR, a
greylisting or a rate limit is not a listing.
"""

import re
from dataclasses import dataclass

#: A DNS zone as receivers print it (zen.spamhaus.org, b.barracudacentral.org).
_ZONE = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
_URL = re.compile(r"https?://[^\s<>\"'();,]+", re.I)
_ADDRESS = re.compile(
    r"(?<![\w.:])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.])"
    r"|(?<![\w:])(?=[0-9a-f:]*:[0-9a-f:]*:)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?![\w:])",
    re.I,
)


@dataclass(frozen=True)
class Citation:
    """The list a reply cites. ``zone`` is a DNSBL zone (the catalog's key)
    or, for a receiver's private list, its name; ``receiver`` names who runs
    a private list ("" for a public DNSBL); ``link`` is where the reply
    itself sends the sender (a URL, or a contact address)."""

    zone: str
    receiver: str = ""
    link: str = ""

    @property
    def private(self) -> bool:
        return bool(self.receiver)


@dataclass(frozen=True)
class Rule:
    """One way receivers cite a list: ``zone`` names it, or is "" for the zone
    the text names (the pattern's group); ``source`` is where the text is
    published; ``contact`` is where to ask when the text has no link."""

    pattern: re.Pattern[str]
    zone: str
    receiver: str
    source: str
    contact: str = ""


def _rule(pattern: str, zone: str, receiver: str, source: str, contact: str = "") -> Rule:
    return Rule(re.compile(pattern, re.I | re.S), zone, receiver, source, contact)


#: Most specific first: the first rule that matches names the list.
RULES: tuple[Rule, ...] = (
    _rule(
        r"blocked using Barracuda Reputation",
        "b.barracudacentral.org",
        "",
        "https://luxsci.com/blog/?p=16857",
    ),
    _rule(
        r"in the Spam[Hh]aus SBL-XBL database",
        "zen.spamhaus.org",
        "",
        "https://www.suped.com/learn/blocklists/"
        "what-causes-bounces-related-to-spamhaus-sbl-xbl-database-and-how-to-troubleshoot",
    ),
    _rule(
        r"\bS3150\b|\bS3140\b|part of their network is on our block ?list",
        "Outlook.com block list",
        "Microsoft (Outlook.com, Hotmail, Live)",
        "https://sevencreative.co.uk/how-to-remove-yourself-from-the-hotmail-block-list/",
        "https://sender.office.com/",
    ),
    _rule(
        r"Nemesis ESMTP Service not available.*IP address is bl(?:ock|ack) ?listed",
        "GMX/WEB.DE block list",
        "United Internet (GMX, WEB.DE)",
        "https://postmaster.gmx.com/en/error-messages",
    ),
    _rule(
        r"t-online\.de.*\(BL\)|\(BL\).*t-online\.de",
        "T-Online block list",
        "Deutsche Telekom (T-Online)",
        "https://www.spamresource.com/2020/06/whoops-t-onlinede-not-accepting-mail.html",
        "tosa@rx.t-online.de",
    ),
    _rule(
        r"DNSBL:RBL|\bis_blocked\b|blocked by ldap:ou=rblmx",
        "AT&T block list",
        "AT&T (att.net, bellsouth.net, sbcglobal.net)",
        "http://worldnet.att.net/general-info/bls_info/block_enduser.html",
        "abuse_rbl@abuse-att.net",
    ),
    _rule(
        r"comcast.*\bBL\d{3,6}\b|smtp-error-codes\.php#BL\d+",
        "Comcast block list",
        "Comcast",
        "https://www.plesk.com/kb/support/unable-to-send-mail-in-plesk-error-554-host-refused-to-talk-to-me/",
    ),
    _rule(
        r"spamcop\.net/bl\.shtml|Spamcop Black ?List|\bbl\.spamcop\.net\b",
        "bl.spamcop.net",
        "",
        "https://forum.spamcop.net/topic/35-faq-entry-why-is-my-email-blocked/",
    ),
    # Postfix's reject_rbl_client, Exim's dnslists and most appliances: the zone itself.
    _rule(
        rf"\bblocked using ({_ZONE})\b",
        "",
        "",
        "https://help.creoline.com/en/doc/"
        "e-mail-rejection-based-on-a-real-time-block-list-rbl-iX6DdWB45M",
    ),
    _rule(
        rf"\b(?:listed|bl(?:ack|ock) ?listed|in an? bl(?:ack|ock) ?list) (?:at|on|in|by) "
        rf"({_ZONE})\b|Defined SPAM source: ({_ZONE})",
        "",
        "",
        "https://github.com/Exim/exim/wiki/BlackLists",
    ),
    _rule(
        r"spamhaus\.org/(?:query|sbl/query|lookup)|check\.spamhaus\.org",
        "zen.spamhaus.org",
        "",
        "https://www.simplefastwebsites.com/errors/email/"
        "smtp-554-5-7-1-client-host-blocked-spamhaus/",
    ),
    # A receiver's own list, named only by the words and a link.
    _rule(
        r"\b(?:RBL|DNSBL)s?\b|\bbl(?:ock|ack) ?listed\b|\bbl(?:ock|ack) ?list\b",
        "unnamed block list",
        "the receiver",
        "https://knowledge.broadcom.com/external/article/161393/"
        "rejection-errors-when-delivering-to-3rd.html",
    ),
)

#: Words that make a reply about something else, whatever list words it has:
#: a list of good senders, or a listing of the recipient.
_NOT_A_LISTING = re.compile(r"\b(?:white|allow|safe) ?list", re.I)


def cite(reply: str) -> Citation | None:
    """The list ``reply`` cites, or None when it cites none."""
    if _NOT_A_LISTING.search(reply):
        return None
    for rule in RULES:
        match = rule.pattern.search(reply)
        if match is None:
            continue
        zone = rule.zone or next(g for g in match.groups() if g).lower()
        url = _URL.search(reply)
        link = url.group(0).rstrip(".") if url else rule.contact
        if rule.receiver == "the receiver" and url:  # named by where it sends the sender
            zone = f"block list at {url.group(0).split('/')[2].lower()}"
        return Citation(zone, rule.receiver, link)
    return None


def client_address(reply: str) -> str:
    """The sending address a reply names ("Client host [192.0.2.1]",
    "IP=192.0.2.1", "messages from [192.0.2.1]"), or ""."""
    match = _ADDRESS.search(reply)
    return match.group(0) if match else ""
