"""What Prometheus and VictoriaMetrics cost at 1,000, 5,000 and 10,000 projects.

Run on demand: python3 -m pytest -m bench tests/bench/bench_prometheus.py -s

Real components only: a fresh state topic holds one synthetic snapshot per project (every
series of docs/metrics.md, three services each; team and service names from the
simulator's project mix), real exporter shard processes (`devmetrics export`, one per 2,500
projects, at least 2) serve it, and a fresh stack per size (Prometheus with the shipped
configuration and its 15 s scrape interval, Alertmanager, VictoriaMetrics) scrapes, evaluates
the rules and remote-writes. Figures are read once Prometheus holds every project and
EXTRA_CYCLES more scrape cycles have passed; the idle baseline is each Prometheus' RSS before
any shard target exists. The largest size runs again with 2 Prometheus servers.

Sizes: DEVMETRICS_BENCH_PROM_SIZES (default "1000,5000,10000"). Results: a table on stdout and
the same as JSON in bench-results/.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from support import REPO_ROOT
from support.pipeline import Subprocess, kafka_env, prometheus_query, wait_for
from support.snapshots import example_record

from core.kafka import client_config, ensure_topics
from core.settings import KafkaSettings, Settings, load_settings
from devmetrics.stack import Stack
from devmetrics.stack.process import free_port, port_in_use
from exporters.series import max_series
from producers.simulator.generator import project_spec
from schemas.codec import Codec
from schemas.topics import CONFLUENT_PARTITIONER, Topics

pytestmark = pytest.mark.bench

SIZES = [
    int(s) for s in os.environ.get("DEVMETRICS_BENCH_PROM_SIZES", "1000,5000,10000").split(",")
]
SERVICES = 3
PROJECTS_PER_SHARD = 2500
PARTITIONS = 12  # divisible by 2, 3 and 4 shards: every shard gets the same share
SCRAPE_S = 15  # the shipped infra/prometheus/prometheus.yml
EXTRA_CYCLES = 8
SEED = 11
# 10,000 projects x 334 series are about 3.3M head series: the step needs this much free.
LARGE_STEP_MIN_FREE = 12 * 2**30
LARGE_STEP = 10_000
FILLER_SERVICES = ("api", "web", "worker", "gateway", "auth", "ingest", "search")
KIB = 1024


def _available_memory() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * KIB
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * KIB
    return 0


def _free_port_run(n: int) -> int:
    while True:
        first = free_port()
        if all(not port_in_use("127.0.0.1", first + i) for i in range(1, n)):
            return first


def _services(names: tuple[str, ...]) -> tuple[str, ...]:
    """The project's own service names, filled up to SERVICES."""
    out = list(dict.fromkeys(names))[:SERVICES]
    out += [s for s in FILLER_SERVICES if s not in out][: SERVICES - len(out)]
    return tuple(out)


def publish_snapshots(kafka: KafkaSettings, projects: int) -> float:
    """One state record per project on the state topic, as the processors publish them."""
    started = time.monotonic()
    codec = Codec.default()
    topic = Topics(kafka.topic_prefix).state
    producer = Producer(
        {
            **client_config(kafka),
            "partitioner": CONFLUENT_PARTITIONER,
            "linger.ms": 50,
            "compression.type": "lz4",
        }
    )
    as_of = int(time.time() * 1000)  # fresh: no stale-state alert during the run
    for index in range(1, projects + 1):
        spec = project_spec(SEED, index)
        record = example_record(
            spec.project_id,
            as_of_ms=as_of,
            services=_services(tuple(s.name for s in spec.services)),
            team=spec.team,
            seed=index,
        )
        while True:
            try:
                producer.produce(
                    topic, key=spec.project_id.encode(), value=codec.encode("state", record)
                )
                break
            except BufferError:
                producer.poll(0.5)
        producer.poll(0)
    assert producer.flush(120) == 0, "state records not delivered"
    return time.monotonic() - started


def _stack_settings(home: Path, servers: int) -> Settings:
    base = load_settings()
    stack = base.stack.model_copy(
        update={
            "home": home,
            "prometheus_servers": servers,
            "prometheus_scrape_interval": None,  # the shipped 15 s
            "prometheus_port": _free_port_run(servers),
            "alertmanager_port": free_port(),
            "victoriametrics_port": free_port(),
            "alert_webhook_url": f"http://127.0.0.1:{free_port()}/alerts",
        }
    )
    return base.model_copy(update={"stack": stack})


def _scalar(url: str, promql: str) -> float:
    result = prometheus_query(url, promql)
    return float(result[0]["value"][1]) if result else math.nan


def _by_label(url: str, promql: str, label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in prometheus_query(url, promql)}


def _text_metrics(url: str) -> dict[str, float]:
    """A /metrics page summed by metric name (labels folded), and by `name{type}` for vm_*."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name = series.split("{", 1)[0]
        out[name] = out.get(name, 0.0) + float(value)
        if 'type="' in series:
            kind = series.split('type="', 1)[1].split('"', 1)[0]
            key = f"{name}{{{kind}}}"
            out[key] = out.get(key, 0.0) + float(value)
    return out


@dataclass
class Run:
    projects: int
    servers: int
    shards: int
    kafka: KafkaSettings
    home: Path

    @property
    def label(self) -> str:
        return f"{self.projects} x{self.servers}P"


def measure(run: Run) -> dict[str, Any]:
    """Bring the stack up, add the shards, wait, read every figure, bring it all down."""
    settings = _stack_settings(run.home, run.servers)
    stack = Stack(settings, only={"victoriametrics", "alertmanager", "prometheus"})
    shards: list[Subprocess] = []
    t0 = time.monotonic()
    try:
        stack.up()
        urls = [p.endpoint.url for p in stack.prometheus_servers()]
        vm_url = stack.component("victoriametrics").endpoint.url
        targets = stack.prometheus_servers()[0].targets_dir
        # Idle baseline: two self-scrapes of each server, before any shard target exists.
        rss = 'process_resident_memory_bytes{job="prometheus"}'
        for url in urls:
            wait_for(lambda u=url: prometheus_query(u, rss), 60, what=f"{url} scraped itself")
        time.sleep(SCRAPE_S + 1)
        idle = [_scalar(url, rss) for url in urls]
        idle_head = [_scalar(url, 'prometheus_tsdb_head_series{job="prometheus"}') for url in urls]

        logs = run.home / "logs"
        for i in range(run.shards):
            shards.append(
                Subprocess(
                    [
                        "export",
                        "--shard",
                        str(i),
                        "--shards",
                        str(run.shards),
                        "--port",
                        str(free_port()),
                        "--sd-file",
                        str(targets / f"exporters-{i}.json"),
                    ],
                    kafka_env(run.kafka),
                    logs / f"exporter-{i}.log",
                )
            )
        shards_added = time.monotonic()

        def all_seen() -> bool:
            for shard in shards:
                assert shard.alive(), f"a shard died:\n{shard.tail()}"
            seen = sum(_scalar(u, "count(devmetrics_project_info) or vector(0)") for u in urls)
            return seen == run.projects

        wait_for(all_seen, 900, interval_s=5, what=f"Prometheus holds all {run.projects} projects")
        seen_after = time.monotonic() - shards_added
        time.sleep(EXTRA_CYCLES * SCRAPE_S)
        waited = time.monotonic() - shards_added

        window = f"{EXTRA_CYCLES * SCRAPE_S}s"
        servers: list[dict[str, Any]] = []
        for url, idle_rss, head0 in zip(urls, idle, idle_head, strict=True):
            head = _scalar(url, 'prometheus_tsdb_head_series{job="prometheus"}')
            rss_now = _scalar(url, rss)
            projects = _scalar(url, "count(devmetrics_project_info) or vector(0)")
            servers.append(
                {
                    "url": url,
                    "projects": int(projects),
                    "head_series": int(head),
                    "head_series_idle": int(head0),
                    "rss_bytes": rss_now,
                    "rss_peak_bytes": _scalar(url, f"max_over_time({rss}[30m])"),
                    "rss_idle_bytes": idle_rss,
                    "rule_group_seconds_max": _scalar(
                        url, "max(prometheus_rule_group_last_duration_seconds)"
                    ),
                    "rule_group_seconds_sum": _scalar(
                        url, "sum(prometheus_rule_group_last_duration_seconds)"
                    ),
                    "exported_series": _scalar(url, "sum(devmetrics_exporter_series)"),
                    "scrape_seconds": _by_label(
                        url, 'scrape_duration_seconds{job="devmetrics-exporters"}', "shard"
                    ),
                    "scrape_seconds_max": _by_label(
                        url,
                        'max_over_time(scrape_duration_seconds{job="devmetrics-exporters"}'
                        f"[{window}])",
                        "shard",
                    ),
                    "body_bytes": _by_label(
                        url,
                        f"increase(devmetrics_exporter_scrape_size_bytes_sum[{window}])"
                        f" / increase(devmetrics_exporter_scrape_size_bytes_count[{window}])",
                        "shard",
                    ),
                    "scrapes_failed": _scalar(
                        url,
                        f'sum(count_over_time((up{{job="devmetrics-exporters"}} == 0)[{window}:]))'
                        " or vector(0)",
                    ),
                    "rule_groups_seconds": _by_label(
                        url, "prometheus_rule_group_last_duration_seconds", "rule_group"
                    ),
                }
            )
        vm = _text_metrics(vm_url)
        rows = vm.get("vm_rows{storage/small}", 0.0) + vm.get("vm_rows{storage/big}", 0.0)
        vm_projects = prometheus_query(
            vm_url, "count(devmetrics_project_info)", latency_offset="1s"
        )
        head_total = sum(s["head_series"] for s in servers)
        exported = sum(s["exported_series"] for s in servers)
        rss_total = sum(s["rss_bytes"] for s in servers)
        idle_total = sum(s["rss_idle_bytes"] for s in servers)
        sample_data = vm.get("vm_data_size_bytes{storage/small}", 0.0) + vm.get(
            "vm_data_size_bytes{storage/big}", 0.0
        )
        bytes_per_sample = vm["vm_data_size_bytes"] / rows if rows else math.nan
        return {
            "projects": run.projects,
            "prometheus_servers": run.servers,
            "shards": run.shards,
            "expected_series": run.projects * max_series(SERVICES),
            "seen_all_after_s": round(seen_after, 1),
            "waited_s": round(waited, 1),
            "head_series": head_total,
            "exported_series": exported,
            "head_to_exported": head_total / exported,
            "rss_bytes": rss_total,
            "rss_idle_bytes": idle_total,
            "rss_per_project_kib": rss_total / run.projects / KIB,
            "rss_added_per_project_kib": (rss_total - idle_total) / run.projects / KIB,
            "rss_per_head_series_bytes": (rss_total - idle_total) / head_total,
            "servers": servers,
            "shard_rss_bytes": [_rss_bytes(s.proc.pid) for s in shards],
            "vm_rss_bytes": vm["process_resident_memory_bytes"],
            "vm_data_bytes": vm["vm_data_size_bytes"],
            "vm_sample_data_bytes": sample_data,
            "vm_rows": rows,
            "vm_projects": int(float(vm_projects[0]["value"][1])) if vm_projects else 0,
            "vm_bytes_per_sample": bytes_per_sample,
            "vm_projected_bytes_per_day": head_total * 86400 / SCRAPE_S * bytes_per_sample,
            "vm_sample_bytes_per_sample": sample_data / rows if rows else math.nan,
            "elapsed_s": round(time.monotonic() - t0, 1),
        }
    finally:
        for shard in shards:
            shard.stop()
        stack.down()
        shutil.rmtree(run.home / "prometheus", ignore_errors=True)
        shutil.rmtree(run.home / "victoriametrics", ignore_errors=True)


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _table(results: list[dict[str, Any]]) -> str:
    def per_server(r: dict[str, Any], key: str, fmt: Any) -> str:
        return " / ".join(fmt(s[key]) for s in r["servers"])

    def per_shard(r: dict[str, Any], key: str, fmt: Any) -> str:
        merged: dict[str, float] = {}
        for s in r["servers"]:
            merged |= s[key]
        return " / ".join(fmt(merged[k]) for k in sorted(merged, key=int))

    rows: list[tuple[str, Any]] = [
        ("Prometheus servers / shards", lambda r: f"{r['prometheus_servers']} / {r['shards']}"),
        ("all projects seen after (s)", lambda r: f"{r['seen_all_after_s']:.0f}"),
        ("measured after (s)", lambda r: f"{r['waited_s']:.0f}"),
        ("series exported (sum)", lambda r: f"{r['exported_series']:,.0f}"),
        ("head series", lambda r: f"{r['head_series']:,}"),
        ("head series per server", lambda r: per_server(r, "head_series", "{:,}".format)),
        ("head / exported", lambda r: f"{r['head_to_exported']:.3f}"),
        ("Prometheus RSS", lambda r: _mb(r["rss_bytes"])),
        ("Prometheus RSS per server", lambda r: per_server(r, "rss_bytes", _mb)),
        ("Prometheus RSS peak per server", lambda r: per_server(r, "rss_peak_bytes", _mb)),
        ("Prometheus RSS idle (baseline)", lambda r: _mb(r["rss_idle_bytes"])),
        ("RSS per project", lambda r: f"{r['rss_per_project_kib']:,.0f} KB"),
        ("(RSS - idle) per project", lambda r: f"{r['rss_added_per_project_kib']:,.0f} KB"),
        ("(RSS - idle) per head series", lambda r: f"{r['rss_per_head_series_bytes']:,.0f} B"),
        (
            "rule groups: max / sum (ms)",
            lambda r: " | ".join(
                f"{s['rule_group_seconds_max'] * 1e3:.0f} / {s['rule_group_seconds_sum'] * 1e3:.0f}"
                for s in r["servers"]
            ),
        ),
        (
            "slowest rule group",
            lambda r: " | ".join(
                max(s["rule_groups_seconds"], key=s["rule_groups_seconds"].get, default="-")
                for s in r["servers"]
            ),
        ),
        ("scrape per shard, last (s)", lambda r: per_shard(r, "scrape_seconds", "{:.2f}".format)),
        (
            "scrape per shard, max (s)",
            lambda r: per_shard(r, "scrape_seconds_max", "{:.2f}".format),
        ),
        (
            "body per shard (gzip)",
            lambda r: per_shard(r, "body_bytes", lambda v: f"{v / 1e6:.1f} MB"),
        ),
        ("failed shard scrapes", lambda r: per_server(r, "scrapes_failed", "{:.0f}".format)),
        ("shard RSS", lambda r: " / ".join(_mb(v) for v in r["shard_rss_bytes"])),
        ("VictoriaMetrics RSS", lambda r: _mb(r["vm_rss_bytes"])),
        ("VictoriaMetrics projects", lambda r: f"{r['vm_projects']:,}"),
        ("VictoriaMetrics data on disk", lambda r: _mb(r["vm_data_bytes"])),
        ("VictoriaMetrics rows stored", lambda r: f"{r['vm_rows']:,.0f}"),
        ("VM bytes per sample (all data)", lambda r: f"{r['vm_bytes_per_sample']:.2f}"),
        (
            "VM bytes per sample (sample parts only)",
            lambda r: f"{r['vm_sample_bytes_per_sample']:.2f}",
        ),
        (
            "VM projected disk per day",
            lambda r: f"{r['vm_projected_bytes_per_day'] / 1e9:,.1f} GB",
        ),
    ]
    header = ["projects"] + [f"{r['projects']:,} ({r['prometheus_servers']}P)" for r in results]
    body = [[name] + [fmt(r) for r in results] for name, fmt in rows]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    head = " | ".join(c.ljust(w) for c, w in zip(header, widths, strict=True))
    return "\n".join([head, "-+-".join("-" * w for w in widths), *lines])


@pytest.mark.timeout(7200)
def test_prometheus_and_victoriametrics_at_scale(kafka_bootstrap: str, tmp_path: Path) -> None:
    results: list[dict[str, Any]] = []
    skipped: list[str] = []
    failures: list[str] = []
    largest = max(SIZES)
    plan = [(n, 1) for n in SIZES] + [(largest, 2)]
    topics: dict[int, KafkaSettings] = {}
    for projects, servers in plan:
        if projects >= LARGE_STEP:
            free = _available_memory()
            if free < LARGE_STEP_MIN_FREE:
                reason = (
                    f"skipped {projects} projects x {servers} Prometheus: "
                    f"{free / 2**30:.1f} GiB free, the step needs {LARGE_STEP_MIN_FREE / 2**30:.0f}"
                )
                print(f"\n{reason}")
                skipped.append(reason)
                continue
        if projects not in topics:
            kafka = KafkaSettings(
                bootstrap=kafka_bootstrap,
                topic_prefix=f"bench{uuid.uuid4().hex[:8]}",
                partitions=PARTITIONS,
            )
            ensure_topics(kafka)
            took = publish_snapshots(kafka, projects)
            print(
                f"\n{projects} snapshots published to {Topics(kafka.topic_prefix).state}"
                f" in {took:.0f} s"
            )
            topics[projects] = kafka
        # One shard per 2,500 projects, at least 2 per Prometheus server.
        shards = max(2 * servers, math.ceil(projects / PROJECTS_PER_SHARD))
        run = Run(projects, servers, shards, topics[projects], tmp_path / f"{projects}-{servers}")
        print(f"{projects} projects, {servers} Prometheus, {shards} shards ...", flush=True)
        try:
            result = measure(run)
        except Exception as exc:  # keep the sizes already measured; reported at the end
            reason = f"{projects} projects x {servers} Prometheus failed: {exc!r}"
            print(f"  {reason}", flush=True)
            failures.append(reason)
            continue
        print(
            f"  every project seen {result['seen_all_after_s']:.0f} s after the shards started; "
            f"measured at {result['waited_s']:.0f} s",
            flush=True,
        )
        results.append(result)

    table = _table(results)
    print(
        f"\nPrometheus and VictoriaMetrics, {SERVICES} services per project, scrape every "
        f"{SCRAPE_S} s, figures read {EXTRA_CYCLES} scrape cycles after Prometheus held every "
        f"project:\n{table}"
    )
    for reason in skipped + failures:
        print(reason)
    out = REPO_ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    path = out / f"bench_prometheus-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    summary = {"results": results, "skipped": skipped, "failures": failures, "table": table}
    path.write_text(json.dumps(summary, indent=2))
    print(f"written to {path}")
    assert not failures, failures
    assert results, "no size was run"
    for r in results:
        assert r["exported_series"] == r["expected_series"], r
