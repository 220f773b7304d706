"""check_dnsbl: is a mail server's address on a DNS blocklist?

A Nagios/Icinga plugin built on nagiosplugin's three stages. Each concept
lives in one module named for it::

    cli          options -> Settings; runs the Check; the only place that exits
    settings     Settings, Resolver: frozen value objects, no globals
    catalog      DnsblList; the list catalog (catalog.toml, data not code)
                 and --lists-file parsing
    querynames   pure: address -> query name, RFC 5782 test entries
    dnsclient    asyncio stub resolver client on dnspython's message API:
                 bounded in-flight queries, retries, one deadline
    verdict      pure: DNS answer -> Verdict (listed / not listed /
                 unusable with a reason), return-code decoding, self-test
    resource     acquisition: Dnsbl(Resource) resolves targets and runs
                 every query (plus self-tests) under the run's deadline,
                 yielding one Metric per address and the totals
    contexts     evaluation: AddressContext (listings -> state, per
                 address), ErrorsContext (unusable lists -> state),
                 PerfContext (perfdata only)
    summary      presentation: first line, long output, TXT sanitising

Pipeline::

    argv -> cli.parse -> Settings
         -> Dnsbl.probe()  [querynames, dnsclient, verdict]
         -> Metric(address, AddressReport) ... Metric(errors) Metric(listed) ...
         -> contexts -> Results -> DnsblSummary -> stdout, exit code 0..3
"""

__version__ = "0.1.0"
