"""Perfdata graphs, end to end, on a real Graphite.

A real ``icinga2 daemon`` runs the shipped CheckCommand (with
--perfdata-per-list) against the DnsWorld (rbldnsd + unbound on loopback);
its GraphiteWriter feeds Debian's carbon-cache, which writes whisper files;
Debian's graphite-web serves the render API from them (tests/graphite_harness.py).
The world goes through a listing episode: clean, listed on one list, on two,
one delisted, clean. The render API's JSON must show it, bucket by bucket,
in the ``listed``, ``new`` and ``delisted`` series and in each list's own
series; graphite-web renders it as a PNG (GRAPH_PNG=path writes it, for the
README); the shipped Grafana dashboard's target expressions must name
series that exist in the whisper tree and render.

Nothing is mocked. Under CI=true a missing icinga2 or Graphite fails.
"""

from __future__ import annotations

import json
import os
import re
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dnsworld import DnsWorld, Zone, require_tool
from tests.graphite_harness import CARBON_CACHE, STEP, Graphite, bucket_start
from tests.icinga_harness import (
    ICINGA_DIR,
    Icinga,
    graphite_writer_conf,
    live_pids,
    wait_for,
    write_plugin_wrapper,
)

LISTED = "198.51.100.10"
HOST = "mx1"
PREFIX = f"icinga2.{HOST}.services.dnsbl.dnsbl.perfdata."
DASHBOARD = ICINGA_DIR / "grafana" / "check_dnsbl.json"
ZEN, SPAMCOP, PSBL = "zen.spamhaus.org", "bl.spamcop.net", "psbl.surriel.com"

OBJECTS = """
object IcingaApplication "app" { }
object CheckerComponent "checker" { }
object FileLogger "main-log" {
  severity = "notice"
  path = LogDir + "/icinga2.log"
}
/* Its own perfdata tells that the GraphiteWriter reaches carbon. */
object Host "@HOST@" {
  check_command = "dummy"
  check_interval = 1s
  address = "@LISTED@"
  vars.dummy_text = "up|up=1;;;0;1"
}
/* The shipped template; checked only when the test says so, once per whisper interval. */
object Service "dnsbl" {
  import "dnsbl-service"
  host_name = "@HOST@"
  enable_active_checks = false
  vars.dnsbl_nameserver = [ "@RESOLVER@" ]
  vars.dnsbl_server = [ "@ZEN@", "@SPAMCOP@", "@PSBL@" ]
  vars.dnsbl_perfdata_per_list = true
}
"""

#: The episode: which lists list LISTED at each step, and what each series
#: must then say in each of the step's two whisper intervals (history.py:
#: ``new`` and ``delisted`` count the changes of that one run).
EPISODE: list[tuple[str, frozenset[str]]] = [
    ("clean", frozenset()),
    ("listed on one", frozenset({ZEN})),
    ("listed on two", frozenset({ZEN, SPAMCOP})),
    ("one delisted", frozenset({ZEN})),
    ("clean again", frozenset()),
]
CHECKS_PER_STEP = 2


def zone(name: str, listed: bool) -> Zone:
    return Zone(name, ip4=("127.0.0.2", *([LISTED] if listed else [])))


def expected() -> list[dict[str, float]]:
    """Every check's value of each series, in order."""
    values: list[dict[str, float]] = []
    before: frozenset[str] = frozenset()
    for _, now in EPISODE:
        for i in range(CHECKS_PER_STEP):
            values.append(
                {
                    "listed": len(now),
                    "new": len(now - before) if i == 0 else 0,
                    "delisted": len(before - now) if i == 0 else 0,
                    **{f"list_{z.replace('.', '_')}": int(z in now) for z in (ZEN, SPAMCOP, PSBL)},
                }
            )
        before = now
    return values


@pytest.fixture
def graphite(tmp_path: Path) -> Iterator[Graphite]:
    require_tool(CARBON_CACHE)  # graphite-carbon
    require_tool("graphite-manage")  # graphite-web
    g = Graphite(tmp_path / "graphite")
    try:
        with g:
            yield g
    finally:
        left = g.leftovers()
        assert left == [], f"outlived the test: {left}"


def check_in_next_interval(icinga: Icinga) -> int:
    """One forced check early in a whisper interval of its own (a later
    result in the same interval would overwrite it); that interval."""
    now = time.time()
    interval = bucket_start(now) if now % STEP < 1 else bucket_start(now) + STEP
    time.sleep(max(0.0, interval + 1 - time.time()))
    done = len(icinga.results("dnsbl"))
    icinga.check_now(HOST, "dnsbl")
    wait_for("a dnsbl result", lambda: len(icinga.results("dnsbl")) > done, 15, icinga.diagnostics)
    result = icinga.results("dnsbl")[-1]
    assert bucket_start(int(result["TIMET"])) == interval, (result, interval)
    return interval


def target_paths(expression: str) -> list[str]:
    """The metric paths (globs allowed) in a Graphite target expression."""
    return re.findall(r"icinga2\.[\w$*.-]+", expression)


@pytest.mark.e2e
def test_an_episode_in_graphite(graphite: Graphite, tmp_path: Path) -> None:
    icinga2 = require_tool("icinga2")
    started = time.monotonic()
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_plugin_wrapper(plugins / "check_dnsbl", state_dir=tmp_path / "state")
    zones = {z: zone(z, False) for z in (ZEN, SPAMCOP, PSBL)}
    with DnsWorld(zones.values()) as world:
        body = OBJECTS + graphite_writer_conf(graphite.line_port)
        for name, value in {
            "HOST": HOST, "LISTED": LISTED,
            "RESOLVER": world.resolver, "ZEN": ZEN, "SPAMCOP": SPAMCOP, "PSBL": PSBL,
        }.items():  # fmt: skip
            body = body.replace(f"@{name}@", value)
        icinga = Icinga(
            tmp_path / "icinga",
            exe=icinga2,
            plugin_contrib_dir=plugins,
            includes=[ICINGA_DIR / "dnsbl.conf", ICINGA_DIR / "services.conf"],
            body=body,
            perfdata_writer=True,
            external_commands=True,
        )
        validation = icinga.validate()
        assert validation.returncode == 0, validation.stdout + validation.stderr
        try:
            with icinga:
                intervals = _episode(icinga, world, graphite)
        finally:
            leftovers = live_pids(str(icinga.conf))
        assert leftovers == [], f"icinga2 processes outlived the test: {leftovers}"
    _assert_graphs(graphite, intervals)
    print(f"--- episode in Graphite: {time.monotonic() - started:.0f} s wall time ---")


def _episode(icinga: Icinga, world: DnsWorld, graphite: Graphite) -> list[int]:
    up = f"icinga2.{HOST}.host.dummy.perfdata.up.value"
    wait_for("carbon to write the host's perfdata", lambda: up in graphite.metrics(), 30,
             lambda: icinga.diagnostics() + graphite.diagnostics())  # fmt: skip
    intervals = []
    before: frozenset[str] = frozenset()
    for _, listed in EPISODE:
        for z in listed ^ before:
            world.update(zone(z, z in listed))
        before = listed
        intervals += [check_in_next_interval(icinga) for _ in range(CHECKS_PER_STEP)]

    def served() -> bool:
        points = graphite.series(PREFIX + "listed.value", intervals[0], intervals[-1] + STEP)
        return any(t == intervals[-1] and v is not None for v, t in points)

    wait_for(
        "graphite-web to serve the last check",
        served,
        15,
        graphite.diagnostics,
    )
    return intervals


def _assert_graphs(graphite: Graphite, intervals: list[int]) -> None:
    since, until = intervals[0] - STEP, intervals[-1] + STEP
    want = expected()
    seen: dict[str, list[Any]] = {}
    for series in want[0]:
        points = graphite.series(PREFIX + series + ".value", since, until)
        seen[series] = points
        by_time = dict((t, v) for v, t in points)
        got = [by_time.get(t) for t in intervals]
        assert got == [w[series] for w in want], (series, points)
    # what an admin sees: listed goes 0 -> 1 -> 2 -> 1 -> 0
    values = [v for v, _ in seen["listed"] if v is not None]
    steps = [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]
    assert steps == [0, 1, 2, 1, 0], seen["listed"]
    print("--- render API datapoints (format=json) ---")
    for series, points in seen.items():
        print(series, json.dumps([[v, t] for v, t in points if since < t < until]))
    # every series went out with its min and (where one exists) its max
    paths = graphite.metrics()
    bounded = ("listed", "errors", "list_zen_spamhaus_org")
    for series in ("new", "delisted", "lists", "time", *bounded):
        assert PREFIX + series + ".min" in paths, (series, paths)
    for series in bounded:
        assert PREFIX + series + ".max" in paths, (series, paths)
    # the shipped Grafana dashboard graphs series that exist, and they render
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expression = target["target"].replace("$host", HOST)
            for path in target_paths(expression):
                pattern = re.escape(path).replace(r"\*", r"[^.]*")
                assert any(re.fullmatch(pattern, p) for p in paths), (path, paths)
            answer = json.loads(graphite.render([expression], since, until))
            assert answer and any(v is not None for a in answer for v, _ in a["datapoints"]), (
                expression
            )
    _picture(graphite, since, until)


#: What the README's picture shows, in expressions an admin can paste: each
#: list's series stacked (their sum is ``listed``), ``listed`` dashed on top,
#: new listings and delistings as vertical lines.
PICTURE = [
    f"aliasByNode(stacked({PREFIX}list_*.value),6)",
    f"alias(dashed(lineWidth({PREFIX}listed.value,3),6),'listed (lists listing it)')",
    f"alias(lineWidth(drawAsInfinite({PREFIX}new.value),4),'new listing')",
    f"alias(lineWidth(drawAsInfinite({PREFIX}delisted.value),4),'delisted')",
]
PICTURE_STYLE = {
    "width": "900", "height": "360", "tz": "UTC", "lineMode": "staircase",
    "title": f"check_dnsbl on {HOST} ({LISTED}): a listing episode",
    "yMin": "0", "yMax": "3", "yStep": "1", "minorY": "0", "areaAlpha": "0.5",
    "bgcolor": "white", "fgcolor": "black", "majorGridLineColor": "#cccccc",
    # list_bl_spamcop_net, list_psbl_surriel_com, list_zen_spamhaus_org, listed, new, delisted
    "colorList": "#2ca02c,#999999,#9467bd,#000000,#d62728,#1f77b4",
}  # fmt: skip


def _picture(graphite: Graphite, since: int, until: int) -> None:
    png = graphite.render(PICTURE, since, until, fmt="png", **PICTURE_STYLE)
    assert png[:8] == b"\x89PNG\r\n\x1a\n", png[:64]
    width, height = struct.unpack(">II", png[16:24])  # IHDR
    assert (width, height) == (900, 360)
    assert len(png) > 10_000, len(png)  # lines, legend and labels, not a blank frame
    out = os.environ.get("GRAPH_PNG")
    if out:
        Path(out).write_bytes(png)


def test_grafana_dashboard_has_what_grafana_requires() -> None:
    """icinga/grafana/check_dnsbl.json imports into Grafana: a title, a
    schemaVersion, a Graphite datasource input, and panels each with a type,
    a gridPos, the Graphite datasource and targets with refIds and Graphite
    expressions over GraphiteWriter's default paths (the e2e test above
    renders each of them)."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] == "check-dnsbl"
    (source,) = dashboard["__inputs"]
    assert (source["type"], source["pluginId"]) == ("datasource", "graphite")
    graphite_source = {"type": "graphite", "uid": "${DS_" + source["name"][3:] + "}"}
    (host,) = dashboard["templating"]["list"]
    assert (host["name"], host["datasource"], host["query"]) == (
        "host", graphite_source, "icinga2.*"
    )  # fmt: skip
    assert dashboard["panels"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in dashboard["panels"]:
        assert panel["type"] == "timeseries" and panel["title"]
        assert panel["datasource"] == graphite_source
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= grid.keys() and 0 < grid["x"] + grid["w"] <= 24
        assert panel["fieldConfig"]["defaults"]["min"] == 0
        refs = [t["refId"] for t in panel["targets"]]
        assert panel["targets"] and len(set(refs)) == len(refs)
        for target in panel["targets"]:
            assert target["datasource"] == graphite_source
            paths = target_paths(target["target"])
            assert paths and all(
                p.startswith("icinga2.$host.services.dnsbl.dnsbl.perfdata.") for p in paths
            )
            assert target["target"].count("(") == target["target"].count(")")


def test_readme_influxdb_writer_validates(tmp_path: Path) -> None:
    """The README's Influxdb2Writer, as an admin would paste it, is accepted
    by ``icinga2 daemon -C`` (the ITL included)."""
    icinga2 = require_tool("icinga2")
    readme = (ICINGA_DIR.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"<!-- influxdb:start -->\n```icinga2\n(.*?)```\n<!-- influxdb:end -->", readme, re.S
    )
    assert block, "no influxdb block in README.md"
    assert 'object Influxdb2Writer "influxdb2"' in block[1]
    body = 'object IcingaApplication "app" { }\n' + block[1]
    validation = Icinga(tmp_path / "icinga", exe=icinga2, body=body).validate()
    assert validation.returncode == 0, validation.stdout + validation.stderr
    assert "Influxdb2Writer" in validation.stdout, validation.stdout
    # the check has teeth: the same writer without its organization is refused
    broken = Icinga(tmp_path / "broken", exe=icinga2, body=re.sub(r".*organization.*\n", "", body))
    assert broken.validate().returncode != 0
