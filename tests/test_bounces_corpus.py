"""Real receivers' rejection texts, held to the parser: each as Postfix logs
it (the remote server's words inside a status line), with where it is
published. Sending addresses and host names are replaced by documentation
ones (RFC 5737, RFC 2606); the words are the receivers'.

Each must name the list it cites (and, for a private list, the receiver
that runs it); the texts that cite no list (a bad PTR, greylisting, a rate
limit, an unknown user) must name none.
"""

from dataclasses import dataclass

import pytest

from check_dnsbl.bounces.maillog import parse
from check_dnsbl.bounces.receivers import RULES, cite, client_address

NOW = 1_772_800_000.0  # 2026-03-06, after the lines' "Mar  6"


@dataclass(frozen=True)
class Sample:
    receiver: str
    source: str
    reply: str
    zone: str | None  # the list it cites; None: it cites none
    private: bool = False
    verb: str = "said"
    status: str = "bounced"


CORPUS = (
    Sample(
        "creoline (Postfix reject_rbl_client)",
        "https://help.creoline.com/en/doc/"
        "e-mail-rejection-based-on-a-real-time-block-list-rbl-iX6DdWB45M",
        "550 5.7.1 Service unavailable; client [203.0.113.7] blocked using zen.spamhaus.org; "
        "from=<it@example.com>, to=<ann@example.org>",
        "zen.spamhaus.org",
    ),
    Sample(
        "oneSystems (Postfix, NiX Spam)",
        "https://support.onesystems.ch/722126-%C3%9Cbersicht-h%C3%A4ufig-vorkommender-"
        "Fehlermeldungen",
        "554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using "
        "ix.dnsbl.manitu.net",
        "ix.dnsbl.manitu.net",
    ),
    Sample(
        "a Spamhaus-listing receiver, zone in the URL only",
        "https://www.simplefastwebsites.com/errors/security/spamhaus-sbl-ip-blocklisted/",
        "550 5.7.1 Service unavailable; Client host [203.0.113.45] blocked using Spamhaus; "
        "https://check.spamhaus.org/sbl/query/SBL000000",
        "zen.spamhaus.org",
    ),
    Sample(
        "Microsoft Outlook.com (S3150)",
        "https://sevencreative.co.uk/how-to-remove-yourself-from-the-hotmail-block-list/",
        "550 5.7.1 Unfortunately, messages from [203.0.113.7] weren't sent. Please contact your "
        "Internet service provider since part of their network is on our block list (S3150). "
        "You can also refer your provider to "
        "[DB3EUR04FT007.eop-eur04.prod.protection.outlook.com]",
        "Outlook.com block list",
        private=True,
    ),
    Sample(
        "Microsoft Hotmail (SC-001, before S3150)",
        "https://support.binarylane.com.au/support/solutions/articles/"
        "11000047583-emails-to-hotmail-and-outlook-are-blocked",
        "550 SC-001 (BAY004-MC4F49) Unfortunately, messages from 203.0.113.7 weren't sent. "
        "Please contact your Internet service provider since part of their network is on our "
        "block list. You can also refer your provider to "
        "http://mail.live.com/mail/troubleshooting.aspx#errors.",
        "Outlook.com block list",
        private=True,
    ),
    Sample(
        "GMX (United Internet)",
        "https://postmaster.gmx.com/en/error-messages",
        "554-gmx.net (mxgmx104) Nemesis ESMTP Service not available 554-No SMTP service "
        "554-IP address is block listed. 554 For explanation visit "
        "https://postmaster.gmx.net/en/case?c=r0201&i=ip&v=203.0.113.7&r=1MNcgj-1ue23t3pyV",
        "GMX/WEB.DE block list",
        private=True,
        verb="refused to talk to me",
        status="deferred",
    ),
    Sample(
        "GMX/WEB.DE (United Internet), 2013 wording",
        "http://marmaro.de/lue/txt/2013-10-24.txt",
        "554-gmx.net (mxgmx007) Nemesis ESMTP Service not available 554-No SMTP service "
        "554-IP address is black listed. 554 For explanation visit "
        "http://postmaster.gmx.net/en/error-messages",
        "GMX/WEB.DE block list",
        private=True,
        verb="refused to talk to me",
        status="deferred",
    ),
    Sample(
        "Deutsche Telekom (T-Online)",
        "https://www.plesk.com/kb/support/"
        "unable-to-send-mail-in-plesk-error-554-host-refused-to-talk-to-me/",
        "554 IP=203.0.113.7 - A problem occurred. (Ask your postmaster for help or to contact "
        "tosa@rx.t-online.de to clarify.) (BL)",
        "T-Online block list",
        private=True,
        verb="refused to talk to me",
        status="deferred",
    ),
    Sample(
        "a Barracuda appliance (Barracuda Reputation)",
        "https://luxsci.com/blog/?p=16857",
        "554 Service unavailable; Client host [server1.example.com] blocked using Barracuda "
        "Reputation; http://bbl.barracudacentral.com/q.cgi?ip=203.0.113.7",
        "b.barracudacentral.org",
    ),
    Sample(
        "a receiver naming Spamhaus SBL-XBL",
        "https://www.suped.com/learn/blocklists/"
        "what-causes-bounces-related-to-spamhaus-sbl-xbl-database-and-how-to-troubleshoot",
        "550 5.7.0 Your server IP address is in the SpamHaus SBL-XBL database, bye",
        "zen.spamhaus.org",
    ),
    Sample(
        "AT&T / BellSouth",
        "http://worldnet.att.net/general-info/bls_info/block_enduser.html",
        "550 <203.0.113.7> blocked by ldap:ou=rblmx, dc=bellsouth, dc=net",
        "AT&T block list",
        private=True,
    ),
    Sample(
        "Comcast (DNSBL code)",
        "https://www.plesk.com/kb/support/"
        "unable-to-send-mail-in-plesk-error-554-host-refused-to-talk-to-me/",
        "554 example.com example.com 203.0.113.7 found on one or more DNSBLs, see "
        "http://postmaster.comcast.net/smtp-error-codes.php#BL000010",
        "Comcast block list",
        private=True,
        verb="refused to talk to me",
        status="deferred",
    ),
    Sample(
        "Comcast (BL009)",
        "https://www.wordtothewise.com/2007/12/changes-at-comcast",
        "554 IMTA06.emeryville.ca.mail.comcast.net comcast 203.0.113.7 Comcast BL009 Blocked "
        "for spam. Please see http://www.comcast.net/help/faq/index.jsp?faq=SecurityMail_Policy19053",
        "Comcast block list",
        private=True,
    ),
    Sample(
        "a SpamCop-listing receiver",
        "https://forum.spamcop.net/topic/35-faq-entry-why-is-my-email-blocked/",
        "451 Blocked - see http://www.spamcop.net/bl.shtml?203.0.113.7",
        "bl.spamcop.net",
        status="deferred",
    ),
    Sample(
        "3Essentials hosting (SpamCop)",
        "http://knowledge.3essentials.com/web-hosting/article/232/",
        "554 IP found in Spamcop Black List. Visit spamcop.net for more information",
        "bl.spamcop.net",
    ),
    Sample(
        "an Exim receiver (dnslists, the Exim wiki's message)",
        "https://github.com/Exim/exim/wiki/BlackLists",
        "550 REJECTED - 203.0.113.7 is blacklisted at cbl.abuseat.org (127.0.0.2); "
        "Blocked - see http://cbl.abuseat.org/lookup.cgi?ip=203.0.113.7",
        "cbl.abuseat.org",
    ),
    Sample(
        "Symantec.cloud (Broadcom) customers",
        "https://knowledge.broadcom.com/external/article/161393/"
        "rejection-errors-when-delivering-to-3rd.html",
        "550 5.7.1 Rejecting mail, 203.0.113.7 is blacklisted",
        "unnamed block list",
        private=True,
    ),
    # Texts that cite no list.
    Sample(
        "1&1/GMX, a bad PTR record",
        "https://www.akriga.com/email-error-554/",
        "554-(mxgmx110) Nemesis ESMTP Service not available 554-No SMTP service 554-Bad DNS "
        "PTR resource record. 554 For explanation visit http://postmaster.1and1.com/en/case",
        None,
        verb="refused to talk to me",
        status="deferred",
    ),
    Sample(
        "Comcast, a missing PTR record",
        "http://www.avolio.com/weblog/2008/06/28/",
        "554 IMTA01.emeryville.ca.mail.comcast.net comcast 203.0.113.7 Comcast requires that "
        "all mail servers must have a PTR record with a valid Reverse DNS entry.",
        None,
        verb="refused to talk to me",
        status="deferred",
    ),
    Sample(
        "bytecamp, greylisting",
        "https://www.bytecamp.net/de/faq/email/zustellen.html",
        "450 4.2.0 <ann@example.org>: Recipient address rejected: Greylisted",
        None,
        status="deferred",
    ),
    Sample(
        "bytecamp, an unknown reverse hostname",
        "https://www.bytecamp.net/de/faq/email/zustellen.html",
        "450 4.7.1 Client host rejected: cannot find your reverse hostname, [203.0.113.7]",
        None,
        status="deferred",
    ),
    Sample(
        "oneSystems, an unknown user",
        "https://support.onesystems.ch/722126-%C3%9Cbersicht-h%C3%A4ufig-vorkommender-"
        "Fehlermeldungen",
        "554 5.7.1 <ann@example.org>: Recipient address rejected: User unknown",
        None,
    ),
    Sample(
        "Yahoo, a rate limit",
        "https://help.yahoo.com/kb/SLN5066.html",
        "421 4.7.0 [TSS04] Messages from 203.0.113.7 temporarily deferred due to unexpected "
        "volume or user complaints - 4.16.55.1",
        None,
        status="deferred",
    ),
)


def log_line(sample: Sample) -> bytes:
    dsn = "5.7.1" if sample.status == "bounced" else "4.7.1"
    return (
        "Mar  6 08:01:02 mx postfix/smtp[4242]: 3F2A1C0123: to=<ann@example.org>, "
        f"relay=mx.example.org[192.0.2.25]:25, delay=0.4, delays=0.1/0/0.2/0.1, dsn={dsn}, "
        f"status={sample.status} (host mx.example.org[192.0.2.25] {sample.verb}: "
        f"{sample.reply} (in reply to RCPT TO command))"
    ).encode()


def test_the_corpus_names_at_least_eight_real_receivers_with_sources() -> None:
    citing = {s.receiver for s in CORPUS if s.zone and s.source.startswith("http")}
    assert len(citing) >= 8
    assert all(rule.source.startswith("http") for rule in RULES)


@pytest.mark.parametrize("sample", CORPUS, ids=lambda s: s.receiver)
def test_each_receiver_text_names_its_list(sample: Sample) -> None:
    delivery = parse(log_line(sample), NOW)
    assert delivery is not None
    assert (delivery.status, delivery.domain, delivery.server) == (
        sample.status,
        "example.org",
        "mx.example.org",
    )
    assert "in reply to" not in delivery.reply and "554-" not in delivery.reply
    citation = cite(delivery.reply)
    if sample.zone is None:
        assert citation is None, citation
        return
    assert citation is not None
    assert (citation.zone, citation.private) == (sample.zone, sample.private)


def test_the_receivers_words_are_one_clean_sentence() -> None:
    gmx = next(s for s in CORPUS if s.receiver == "GMX (United Internet)")
    delivery = parse(log_line(gmx), NOW)
    assert delivery is not None
    assert delivery.reply == (
        "554 gmx.net (mxgmx104) Nemesis ESMTP Service not available No SMTP service IP "
        "address is block listed. For explanation visit "
        "https://postmaster.gmx.net/en/case?c=r0201&i=ip&v=203.0.113.7&r=1MNcgj-1ue23t3pyV"
    )
    citation = cite(delivery.reply)
    assert citation is not None
    assert citation.receiver == "United Internet (GMX, WEB.DE)"
    assert citation.link.startswith("https://postmaster.gmx.net/en/case?c=r0201")
    assert client_address(delivery.reply) == "203.0.113.7"
    telekom = next(s for s in CORPUS if s.receiver.startswith("Deutsche Telekom"))
    citation = cite(telekom.reply)
    assert citation is not None and citation.link == "tosa@rx.t-online.de"  # no URL: the contact
