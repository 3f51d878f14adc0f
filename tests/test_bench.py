"""The benchmarks and evaluations need the large news files from --data DIR: without it
each says so in one line and exits 2 (no traceback, nothing read from outside the
repository)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = ["run", "soak", "warm", "profile_once", "farm", "bench_matching", "eval_merging"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_without_data_it_says_what_it_needs(script, tmp_path):
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{script}.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"{script}.py: needs news/rss2022_2023.jsonl")
    assert "pass --data DIR" in done.stderr


def test_a_data_folder_without_the_files_is_named(tmp_path):
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_matching.py"), "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"bench_matching.py: no news/rss2022_2023.jsonl in {tmp_path}")
