"""
The benchmark's results as files: JSON, a markdown table with ratios to the
baselines, and PNG plots when matplotlib (the ``bench`` extra) is installed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

# Where a cluster's CPU a delivery goes: its nodes, its redis-server, and
# PostgreSQL's backends for its database (bench/cluster.py).
CLUSTER_PARTS = ("nodes_us_per_delivery", "redis_us_per_delivery", "postgres_us_per_delivery")

COLUMNS = {
    "fan-out": (
        "clients", "deliveries_per_s", "cpu_us_per_delivery", "user_us_per_delivery", "lost",
    ),
    "history": ("clients", "deliveries_per_s", "cpu_us_per_delivery", "lost"),
    "latency": (
        "offered_deliveries_per_s", "p50_ms", "p99_ms", "max_ms", "cpu_us_per_delivery",
        "user_us_per_delivery", "lost", "duplicated_or_reordered",
    ),
    "idle": ("clients", "connect_s", "rss_kib_per_connection", "delivered_after", "lost"),
    "idle in a channel": (
        "clients", "connect_s", "rss_kib_per_connection", "delivered_after", "lost",
    ),
    "slow consumer": ("chatty", "received_fraction", "stalled_seconds", "rss_growth_mib", "lost"),
    "cluster fan-out": (
        "clients", "deliveries_per_s", "cpu_us_per_delivery", *CLUSTER_PARTS, "lost",
    ),
    "cluster latency": (
        "offered_deliveries_per_s", "p50_ms", "p99_ms", "max_ms", "cpu_us_per_delivery",
        *CLUSTER_PARTS, "lost", "duplicated_or_reordered",
    ),
}  # fmt: skip

# The cluster's scenarios: figures compared with the single node's of the same run.
CLUSTER_RATIOS = {
    "cluster fan-out": ("deliveries_per_s", "cpu_us_per_delivery"),
    "cluster latency": ("p99_ms", "cpu_us_per_delivery"),
}

# For each scenario, the figure compared with the baselines (as chat / baseline).
RATIO = {
    "fan-out": "cpu_us_per_delivery",
    "latency": "cpu_us_per_delivery",
    "idle": "rss_kib_per_connection",
    "slow consumer": "rss_growth_mib",
}


BASELINES = ("floor", "threaded", "ngircd", "inspircd")
"""
The servers chat is compared with: what they lose is theirs, not chat's.
"""


def loss_lines(results: list[dict[str, Any]]) -> list[str]:
    """
    A line for each measurement that lost deliveries, saying whose loss it is.
    """
    lines = []
    for record in results:
        if not record.get("lost"):
            continue
        server = record["server"]
        whose = ", a baseline, not chat" if server.partition(" (")[0] in BASELINES else ""
        size = record.get("clients") or record.get("chatty")
        lines.append(
            f"LOST: {record['lost']} deliveries by {server}{whose} "
            f"({record['scenario']}, {size} clients)"
        )
    return lines


def key(record: dict[str, Any]) -> tuple[Any, ...]:
    size = record.get("clients") or record.get("chatty")
    return (record["scenario"], size)


def markdown(results: list[dict[str, Any]], about: dict[str, Any]) -> str:
    lines = [
        f"# Benchmark results, {about['date']}",
        "",
        f"Python {about['python']}, {about['machine']}; {about['runs']} run(s) of each "
        f"(medians); {about['seconds']} s in all. Made by `bench/run.py`.",
    ]
    by_key: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for record in results:
        name = record["server"]
        if record["scenario"] == "history":
            # The checkout it ran, if several were compared (run.py --code).
            code = name.partition(" (")[2]
            name = "history on" if record["history"] else "history off"
            name += f" ({code}" if code else ""
        elif not record["history"]:
            name += " (no history)"
        by_key.setdefault(key(record), {})[name] = record
    for scenario, columns in COLUMNS.items():
        rows = [(k, v) for k, v in by_key.items() if k[0] == scenario]
        if not rows:
            continue
        # A column no record has (a figure older runs did not take) is left out.
        columns = tuple(
            c for c in columns if any(c in record for _, s in rows for record in s.values())
        )
        ratio = RATIO.get(scenario)
        baselines = about.get("baselines", ["floor", "threaded"])
        header = ["server", *columns]
        if ratio:
            header += [f"{ratio} ÷ {baselines[0]}", f"÷ {baselines[1]}"]
        against = CLUSTER_RATIOS.get(scenario, ())
        header += [f"{figure} ÷ single node" for figure in against]
        lines += ["", f"## {scenario}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "---|" * len(header))
        for _, servers in rows:
            for name, record in servers.items():
                cells = [name] + [str(record.get(column, "")) for column in columns]
                if ratio:
                    for baseline in baselines:
                        other = servers.get(baseline, {}).get(ratio)
                        mine = record.get(ratio)
                        cells.append(f"{mine / other:.2f}" if other and mine is not None else "-")
                # The single node of the same checkout (run.py --code names it).
                code = name.partition(" (")[2]
                single = servers.get("single node" + (f" ({code}" if code else ""), {})
                for figure in against:
                    other, mine = single.get(figure), record.get(figure)
                    cells.append(f"{mine / other:.2f}" if other and mine is not None else "-")
                lines.append("| " + " | ".join(cells) + " |")
        if scenario == "history":
            on = next((s["history on"] for _, s in rows if "history on" in s), None)
            off = next((s["history off"] for _, s in rows if "history off" in s), None)
            if on and off and off["deliveries_per_s"]:
                cost = 1 - on["deliveries_per_s"] / off["deliveries_per_s"]
                lines += ["", f"History costs {cost:.1%} of fan-out throughput."]
    losses = loss_lines(results)
    if losses:
        lines += ["", "## Lost deliveries", "", *(f"- {line}" for line in losses)]
    return "\n".join(lines) + "\n"


def plots(results: list[dict[str, Any]], folder: Path, stem: str) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    charts = [
        ("fan-out", "clients", "deliveries_per_s", "room size", "deliveries/s"),
        ("idle", "clients", "rss_kib_per_connection", "connections", "RSS KiB per connection"),
    ]
    for scenario, x, y, xlabel, ylabel in charts:
        series = {
            server: sorted(
                (r[x], r[y]) for r in results if r["scenario"] == scenario and r["server"] == server
            )
            for server in ("chat", "floor", "threaded", "chat-irc", "ngircd", "inspircd")
        }
        if not any(series.values()):
            continue
        figure, axes = plt.subplots(figsize=(6, 4))
        for server, points in series.items():
            if points:
                axes.plot(*zip(*points, strict=True), marker="o", label=server)
        axes.set_xscale("log")
        axes.set(xlabel=xlabel, ylabel=ylabel, title=scenario)
        axes.legend()
        path = folder / f"{stem}-{scenario}.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        made.append(path)
    records = [r for r in results if r["scenario"] == "latency"]
    if not records:
        return made
    figure, axes = plt.subplots(figsize=(6, 4))
    labels = [r["server"] for r in records]
    for offset, percentile in enumerate(("p50_ms", "p99_ms", "max_ms")):
        axes.bar(
            [i + offset * 0.25 for i in range(len(records))],
            [r[percentile] or 0 for r in records],
            width=0.25,
            label=percentile,
        )
    axes.set_xticks([i + 0.25 for i in range(len(records))], labels)
    axes.set(ylabel="ms", title="latency at the offered rate")
    axes.set_yscale("log")
    axes.legend()
    path = folder / f"{stem}-latency.png"
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    made.append(path)
    return made


def write_report(results: list[dict[str, Any]], folder: Path, about: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stem = time.strftime("%Y-%m-%d-%H%M", time.gmtime()) + ("-smoke" if about["smoke"] else "")
    (folder / f"{stem}.json").write_text(json.dumps({"about": about, "results": results}, indent=1))
    (folder / f"{stem}.md").write_text(markdown(results, about), encoding="utf-8")
    made = plots(results, folder, stem)
    print(f"results: {folder / stem}.json, .md" + (f", {len(made)} plots" if made else ""))
