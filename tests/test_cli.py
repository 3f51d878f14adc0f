"""bot.py commands as a user runs them: score, explain, check --online, misuse."""

import json
from pathlib import Path

import pytest

from tests.helpers import rss, run_bot, seed_item, write_config

ROOT = Path(__file__).resolve().parent.parent


def test_score_reads_json_lines_and_writes_verdicts():
    seed = seed_item()
    lines = [
        {"id": "seed", "title": seed["title"], "summary": seed["summary"]},
        {"id": "dull", "title": "Local council approves new park"},
    ]
    done = run_bot("score", stdin="\n".join(json.dumps(x) for x in lines) + "\n")
    assert done.returncode == 0, done.stderr
    seed_out, dull_out = [json.loads(line) for line in done.stdout.splitlines()]
    assert seed_out["alert"] is True
    assert seed_out["supplier"] == ["Iran"] and seed_out["recipient"] == ["Russia"]
    assert "ballistic missiles" in seed_out["weapons"]
    assert "arms-transfer" in seed_out["rules"] and "iran-to-russia" in seed_out["rules"]
    assert dull_out == dict(dull_out, id="dull", alert=False, rules=[], supplier=[])


def test_score_names_a_bad_input_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a", "title": "ok"}\n{"id": "b", "title": \n')
    done = run_bot("score", str(path))
    assert done.returncode == 1
    assert f"{path} line 2: not JSON" in done.stderr and "Traceback" not in done.stderr


def test_explain_says_why():
    done = run_bot("explain", "Germany to send Leopard 2 tanks to Ukraine")
    assert done.returncode == 0
    assert "alert: yes" in done.stdout
    assert "supplier=['Germany'] recipient=['Ukraine']" in done.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["fly"], "invalid choice: 'fly'"),
        (["--config", "/nonexistent/c.toml", "check"], "/nonexistent/c.toml: cannot read config"),
        (["score", "/nonexistent.jsonl"], "/nonexistent.jsonl: cannot read"),
    ],
)
def test_misuse_is_one_clear_line(args, message):
    done = run_bot(*args)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr


def test_check_online_reports_each_feed(tmp_path, feed_server):
    feed_server.set("/ok.xml", rss([seed_item()]))
    feed_server.fail("/gone.xml", 404)
    config = write_config(
        tmp_path / "c.toml",
        [("Ok", feed_server.url("/ok.xml")), ("Gone", feed_server.url("/gone.xml"))],
    )
    done = run_bot("--config", str(config), "check", "--online")
    assert done.returncode == 1
    assert "Ok: ok 1 items, newest 0h old" in done.stdout
    assert "Gone: FAIL HTTP 404" in done.stdout


def test_check_summarizes_the_default_config():
    done = run_bot("check")
    assert done.returncode == 0, done.stderr
    assert "feeds: 25" in done.stdout and "DSCA Major Arms Sales" in done.stdout
    assert "iran-to-russia [priority]" in done.stdout
