"""check_dnsbl_bounces: the mail server's own evidence of blocklist trouble.

A second plugin of the package, on the same nagiosplugin stages: it reads
the MTA's log (Postfix) for remote rejections and deferrals that cite a
blocklist, and, with --queue, the deferred mail still waiting for one. It
sees what no DNSBL query can: receivers' private lists, lists missing from
the catalog, listings a resolver cannot see. It shares check_dnsbl's
catalog (code meanings, delist URLs), output layout and byte bound
(``summary.render``), state-file safety (``statefile``) and exit handling
(``cli.finish``). Its modules, each import pointing down::

    cli          argv -> options -> the Check -> stdout, exit code
    options      the command line -> BouncesSettings
    --- the three stages -------------------------------------------------
    resource     acquisition: Bounces(Resource) lists the queue (queue),
                 reads the new log lines (logreader) under the state file's
                 lock (state) -> Metrics: a Group per receiver and list, the
                 counts, the Evidence
    contexts     evaluation: Metrics -> states
    summary      presentation: the receivers' words, delist links, retries
    --- what the resource uses -------------------------------------------
    collect      pure: deliveries and queued recipients -> Groups, Waiting
    logreader    the log, incrementally, across rotations
    queue        postqueue -j (the package's one process), bounded; parsing
    state        the state file's format: the log position, per-receiver times
    maillog      pure: a log line -> Delivery (the remote server's words)
    receivers    pure: a reply -> the list it cites (rules with sources)
    --- the ground floor -------------------------------------------------
    model        Group, Waiting, Evidence
    settings     BouncesSettings
"""
