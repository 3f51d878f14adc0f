"""The figures table (stdout and bench/results.md) and the cost-against-feeds plot."""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass
class Figure:
    number: str
    what: str
    value: float
    note: str
    ratio: float | None  # against the figure's baseline (bigger is better for us)
    target: str


def machine(seconds: float) -> dict[str, str]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    names = ("feedparser", "aiohttp", "lxml", "sqlite-utils", "rensa")
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in names)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": f"{os.cpu_count()} cores, {model}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": versions,
        "run time": f"{seconds:.0f} s",
    }


def _number(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def table(figures: list[Figure]) -> str:
    rows = [("fig", "measure", "value", "ratio", "target", "note")]
    for f in figures:
        ratio = f"{f.ratio:.1f}x" if f.ratio is not None and not math.isnan(f.ratio) else ""
        if f.ratio is not None and f.ratio < 1:
            ratio = f"{f.ratio:.0%}"
        rows.append((f.number, f.what, _number(f.value), ratio, f.target, f.note))
    head = "| " + " | ".join(rows[0]) + " |\n|" + "---|" * len(rows[0]) + "\n"
    return head + "".join("| " + " | ".join(r) + " |\n" for r in rows[1:])


def write_results(path: Path, figures, info, series, notes) -> str:
    """Write results.md; return the table."""
    text = table(figures)
    cycles = [
        "| feeds | all 304: wall s | CPU s | 10% changed: wall s | CPU s | new items | RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in series.values():
        quiet = f"{s.unchanged.wall:.2f} | {s.unchanged.cpu:.2f}" if s.unchanged else "- | -"
        cycles.append(
            f"| {s.feeds:,} | {quiet} | "
            f"{s.changed.wall:.2f} | {s.changed.cpu:.2f} | {s.new_items} | "
            f"{s.changed.rss_mb:.0f} |"
        )
    lines = [
        "# armswatch benchmark results",
        "",
        "Written by `python bench/run.py` (figures, not pass/fail tests). Ratio: how many",
        "times better than the baseline measured in the same run (figure 3: share of raw).",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        "",
        text,
        "## Warm `bot.py once` cycles (plot: cost_vs_feeds.png)",
        "",
        "Each a whole process; at 100 and 1,000 feeds the run of median CPU out of three.",
        "",
        *cycles,
        "",
        *([f"Notes: {'; '.join(notes)}", ""] if notes else []),
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return "\n".join(f"{k}: {v}" for k, v in info.items()) + "\n\n" + text


def plot(path: Path, series, base) -> None:
    """Cost of a warm cycle against the number of feeds, log-log, with the baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(series)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ax.plot(sizes, [series[n].changed.cpu for n in sizes], "o-", label="once, 10% changed: CPU")
    ax.plot(sizes, [series[n].changed.wall for n in sizes], "s--", label="once, 10% changed: wall")
    quiet = [n for n in sizes if series[n].unchanged]
    ax.plot(quiet, [series[n].unchanged.cpu for n in quiet], "^-", label="once, all 304: CPU")
    for b in base:
        if b.warm is None:
            continue
        ax.plot(
            sizes,
            [b.scaled(n)[0] for n in sizes],
            ":",
            label=f"{b.name} wall (linear from {b.feeds} feeds)",
        )
        ax.plot([b.feeds], [b.warm.wall], "kx")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("feeds (50 items each, 10% gain 3 items per cycle)")
    ax.set_ylabel("seconds per poll cycle")
    ax.set_title("armswatch: cost of one warm poll cycle against feeds")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
