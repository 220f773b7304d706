"""check_dnsbl: is a mail server's address (or domain) on a DNS blocklist?

A Nagios/Icinga plugin built on nagiosplugin's three stages. Each concept
lives in one module named for it::

    cli          options -> Settings; runs the Check; the only place that exits
    settings     Settings: the frozen value object of one run, no globals
    resolvers    Resolver, Via: where queries go (-n, discovery servers)
    targets      what -H/--mx/-d name -> the addresses and domains to ask about
    outbound     outbound-IP discovery over DNS (OpenDNS, Google), cross-checked
    catalog      DnsblList; the list catalog (catalog.toml, data not code)
                 and --lists-file parsing
    keys         keys of keyed lists (Spamhaus DQS, Abusix); redaction
    configfile   files named on the command line: read, or one line why not
    querynames   pure: address/domain -> query name, RFC 5782 test entries
    dnsclient    asyncio stub-resolver client on dnspython's message API:
                 bounded in-flight queries, retries, TCP fallback, one deadline
    verdict      pure: DNS answer -> Verdict (listed / not listed /
                 unusable with a reason), return codes, self-test
    history      the state file: NEW listings, listed since, delisted
    resource     acquisition: Dnsbl(Resource) resolves the targets and runs
                 every query (plus self-tests) under the run's deadline,
                 yielding one Metric per target and the totals
    contexts     evaluation: TargetContext (listings -> state, per target),
                 ErrorsContext (unusable lists), NewListingContext,
                 PerfContext (perfdata only)
    summary      presentation: first line, long output, TXT sanitising

Pipeline::

    argv -> cli.parse -> Settings
         -> Dnsbl.probe()  [outbound, targets, querynames, dnsclient, verdict, history]
         -> Metric(target, TargetReport) ... Metric(errors) Metric(listed) Metric(new) ...
         -> contexts -> Results -> DnsblSummary -> stdout, exit code 0..3
"""

__version__ = "0.1.0"
