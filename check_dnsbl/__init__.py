"""check_dnsbl: is a mail server's address (or domain) on a DNS blocklist?

A Nagios/Icinga plugin built on nagiosplugin's three stages. Each concept
lives in one module named for it; the floors below are import layers, and
every import points down (a module uses only those on its floor or below)::

    cli          argv -> options -> the Check -> stdout, exit code; the only
                 module that exits
    options      the command line (argparse) and its validation -> Settings
    extraopts    --extra-opts: options from a Monitoring Plugins ini file
    --- the three stages -------------------------------------------------
    resource     acquisition: Dnsbl(Resource) resolves the targets and asks
                 every list under one deadline -> Metrics: a TargetReport
                 per target, the counts, and the Findings
    contexts     evaluation: Metrics -> states (thresholds are counts)
    summary      presentation: Results -> first line, long output, and the
                 whole output within Nagios's 8 KB (``render``)
    --- what the resource uses -------------------------------------------
    subjects     targets -> the addresses and domains to ask, over DNS
    outbound     outbound-IP discovery (OpenDNS, Google), cross-checked
    history      the state file: NEW listings, listed since, delisted
    settings     Settings: the frozen value object of a run; its clock
    dnsclient    asyncio stub-resolver client: bounded in-flight queries,
                 retries, TCP fallback, one deadline, --max-qps; without
                 recursion for a list's own servers (--direct)
    targets      pure: -H/--mx/-d text -> Target (IDNA 2008, registrable
                 domain by the Public Suffix List handed in)
    direct       pure: which verdicts may ask the list's own servers
                 (--direct), and what their non-recursive reply is worth
    verdict      pure: a DNS answer -> Verdict (listed / rated by an
                 allowlist / not listed / unusable with a reason); the
                 RFC 5782 self-test
    querynames   pure: every query name, the test entries, how addresses read
    resolvers    -n and /etc/resolv.conf -> Resolver
    --- the ground floor -------------------------------------------------
    model        value types, no I/O: Target, Subject, Reply/Failure,
                 Verdict, TargetReport, Findings, ...
    catalog      DnsblList, Catalog: the lists (catalog.toml, data not code),
                 what their codes mean and how severe each is
    keys         keys of keyed lists (Spamhaus DQS, Abusix); redaction
    labels       pure: a list's zone -> its perfdata label (--perfdata-per-list),
                 safe in Graphite, InfluxDB and PNP4Nagios; collisions refused
    configfile   files named on the command line: regular, bounded, or
                 one line why not
    publicsuffix the Public Suffix List (the host's copy: PyPI's
                 publicsuffixlist or Debian's publicsuffix) -> registrable domains
    statefile    state files: regular only, no symlinks, flock, atomic
                 replacement keeping the owner (history's, and bounces')
    wire         DNS messages as bytes, for the hot path

The package's second plugin, check_dnsbl_bounces (the MTA's log and
queue as evidence), is the sub-package ``bounces``, with a map of its own;
it imports the catalog, ``summary.render``, ``statefile`` and ``cli.finish``
from here, and nothing here imports it.

Pipeline::

    argv -> options.parse -> Settings
         -> Dnsbl.probe()  [subjects, outbound, querynames, dnsclient, verdict, direct,
                            history]
         -> Metric(target, TargetReport) ...  Metric(usable) Metric(errors)
            Metric(listed) Metric(new) ... Metric(findings, Findings)
         -> contexts -> Results -> DnsblSummary -> render -> stdout, exit 0..3

Where this differs from the plain nagiosplugin way, and why: the output is
laid out by ``summary.render``, not by nagiosplugin's Runtime, so that it is
bounded in bytes with the perfdata inside and a stdout that cannot be
written is exit 3; and everything the Summary words travels in Metrics
(the ``findings`` metric), never through the Resource.
"""

__version__ = "0.1.0"
