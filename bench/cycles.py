"""Figures 1 and 2: whole poll cycles of `bot.py once`, the naive loop and newsboat.

Every cycle is a separate process timed alone (wall, CPU user+sys, peak RSS via wait4);
the farm runs in its own process, so its CPU is not counted.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from harness import (
    PYTHON,
    ROOT,
    FarmProcess,
    Timed,
    bot_env,
    new_items_of,
    once,
    seed_db,
    timed,
    write_config,
)

CHANGED = 0.1  # share of feeds that gain items in a cycle
NEW = 3  # items each changed feed gains


@dataclass
class Series:
    """`once` cycles at one feed count: all unchanged (304), 10% changed, identical bodies."""

    feeds: int
    unchanged: Timed | None  # skipped at 10,000 feeds to keep run.py short
    changed: Timed
    new_items: int
    identical: Timed | None = None
    notes: list[str] = field(default_factory=list)


def bot_series(
    farm: FarmProcess,
    feeds: int,
    identical: bool = False,
    unchanged: bool = True,
    repeat: int = 1,
) -> Series:
    """Seed a database as a first poll would, then time warm `once` cycles on it: each
    kind `repeat` times, the run of median CPU kept (one process is noisy by ~30 ms)."""
    runs: dict[str, list[Timed]] = {"unchanged": [], "changed": [], "identical": []}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        config = write_config(folder, farm, feeds)
        seed_db(folder / "bench.db", farm, feeds)
        for _ in range(repeat):
            if unchanged:
                runs["unchanged"].append(once(config))
            farm.ctl("change", fraction=CHANGED, new=NEW, limit=feeds)
            runs["changed"].append(once(config))
            if identical:  # the same bytes again, answered 200: recognised, not parsed
                farm.ctl("conditional", on=0)
                try:
                    runs["identical"].append(once(config))
                finally:
                    farm.ctl("conditional", on=1)
    median = {kind: _median(timed) for kind, timed in runs.items()}
    changed = median["changed"]
    series = Series(feeds, median["unchanged"], changed, new_items_of(changed))
    series.identical = median["identical"]
    expected = round(feeds * CHANGED) * NEW
    if any(new_items_of(run) != expected for run in runs["changed"]):
        got = [new_items_of(run) for run in runs["changed"]]
        series.notes.append(f"{feeds} feeds: new items {got}, expected {expected}")
    for run in (r for kind in runs.values() for r in kind):
        if "failed)" in run.stderr and " (0 failed)" not in run.stderr:
            series.notes.append(f"{feeds} feeds: {_failures(run)}")
    return series


def _median(runs: list[Timed]) -> Timed | None:
    return sorted(runs, key=lambda run: run.cpu)[len(runs) // 2] if runs else None


def _failures(run: Timed) -> str:
    lines = [ln.strip() for ln in run.stderr.splitlines() if ln.startswith(("polled", "  feed"))]
    return "; ".join(lines[:4])


@dataclass
class Baseline:
    name: str
    feeds: int  # feeds it was measured on
    warm: Timed | None
    note: str = ""

    def scaled(self, feeds: int) -> tuple[float, float]:
        """(wall, CPU) for `feeds` feeds, linear from the measured count."""
        factor = feeds / self.feeds
        return self.warm.wall * factor, self.warm.cpu * factor


def baselines(farm: FarmProcess, feeds: int) -> list[Baseline]:
    """The naive loop and newsboat on feeds 0..feeds-1: a first cycle, a change, a timed one."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        urls = folder / "urls"
        urls.write_text("".join(farm.url(f) + "\n" for f in range(feeds)))
        naive = [PYTHON, str(ROOT / "bench" / "naive.py"), str(urls), str(folder / "seen.json")]
        home = folder / "home"
        (home / ".newsboat").mkdir(parents=True)
        shutil.copy(urls, home / ".newsboat" / "urls")
        (home / ".newsboat" / "config").write_text("")
        nb_env = {**bot_env(), "HOME": str(home)}
        newsboat = shutil.which("newsboat")
        timed([*naive, "--record-only"])
        if newsboat:
            timed([newsboat, "-x", "reload"], env=nb_env)
        farm.ctl("change", fraction=CHANGED, new=NEW, limit=feeds)
        out = [Baseline("naive loop", feeds, timed(naive))]
        if newsboat:
            out.append(Baseline("newsboat", feeds, timed([newsboat, "-x", "reload"], env=nb_env)))
        else:
            out.append(Baseline("newsboat", feeds, None, "not installed: skipped"))
    return out
