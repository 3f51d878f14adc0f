"""The armswatch command line: run the daemon, poll once, check the config, score texts.

`armswatch` (the installed console script), `python bot.py` (a checkout) and
`python -m watchers` all call main(). Parsing and wiring only: each command hands its work
to the orchestration modules (app, schedule, check, score) and the stages under them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import warnings

from watchers.config.load import load_config
from watchers.errors import ArmswatchError

EXIT_OK, EXIT_ERROR, EXIT_QUEUED = 0, 1, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.toml", help="config file (config.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="the daemon: poll feeds on schedule, deliver alerts")
    once = commands.add_parser("once", help="poll every feed once, deliver the queue, exit")
    once.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="give up delivering after this long; the rest stays queued (60)",
    )
    check = commands.add_parser("check", help="validate the config and summarize it")
    check.add_argument("--online", action="store_true", help="also fetch each feed once")
    score = commands.add_parser("score", help="match JSON Lines items, print one verdict each")
    score.add_argument("file", nargs="?", help="JSON Lines file (default: stdin)")
    score.add_argument("--explain", action="store_true", help="add matched terms and reasons")
    explain = commands.add_parser("explain", help="why a text would or would not alert")
    explain.add_argument("text", help="headline, optionally a newline and the summary")
    export = commands.add_parser("export", help="the stored transfer events as CSV or JSON Lines")
    export.add_argument("--since", type=duration, default="30d", help="how far back (30d)")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="(csv)")
    export.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    report = commands.add_parser("report", help="draw the stories chart as a PNG")
    report.add_argument("--since", type=duration, default="30d", help="how far back (30d)")
    report.add_argument("--out", metavar="FILE", default="report.png", help="(report.png)")
    report.add_argument("--top", type=int, help="supplier -> recipient pairs shown ([report] top)")
    report.add_argument("--send", action="store_true", help="also send it to the channel now")
    add_train_parser(commands)
    migrate = commands.add_parser("migrate", help="copy the SQLite database into PostgreSQL")
    migrate.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="postgresql://user@host:port/database (password from PGPASSWORD or ~/.pgpass)",
    )
    actions = add_feeds_parser(commands)
    for sub in [*commands.choices.values(), *actions.choices.values()]:
        sub.add_argument("--config", default=argparse.SUPPRESS, help="config file")
        sub.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    return parser


def add_train_parser(commands: argparse._SubParsersAction) -> None:
    """`train`: rebuild the detector's model file from labelled news."""
    train = commands.add_parser("train", help="rebuild the detector's model from labelled news")
    train.add_argument(
        "--data", metavar="FILE", help="labelled JSON Lines (data/labelled/news.jsonl.gz)"
    )
    train.add_argument("--out", metavar="FILE", help="model file (the shipped model.json)")
    train.add_argument(
        "--with-feedback", action="store_true", help="add the labels stored by /wrong and /missed"
    )
    evaluate = commands.add_parser(
        "eval", help="what a retrained model would change, against the shipped one"
    )
    evaluate.add_argument(
        "--data", metavar="FILE", help="labelled JSON Lines (data/labelled/news.jsonl.gz)"
    )
    evaluate.add_argument(
        "--with-feedback", action="store_true", help="train on the stored labels too"
    )
    evaluate.add_argument(
        "--show", type=int, default=20, metavar="N", help="titles listed per change (20)"
    )


def add_feeds_parser(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """`feeds import FILE [--dry-run] | export | list`; the parsers of its actions."""
    feeds = commands.add_parser("feeds", help="import, export or list the configured feeds")
    actions = feeds.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("import", help="add the feeds of an OPML file to the config file")
    add.add_argument("file", help="an OPML file, as feed readers export them")
    add.add_argument("--dry-run", action="store_true", help="only print what it would add")
    actions.add_parser("export", help="write the configured feeds as OPML 2.0 to stdout")
    actions.add_parser("list", help="each feed's name, URL, interval and stored status")
    return actions


def duration(text: str) -> float:
    """An argparse type: "30d", "12h" or seconds."""
    from watchers.config.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code."""
    args = build_parser().parse_args(argv)
    # PTB warns about retry_after becoming a timedelta; deliver.py handles both types.
    warnings.filterwarnings("ignore", message="Deprecated since version v22.2")
    from watchers.ops.logs import setup_logging

    try:
        config = load_config(args.config)
        setup_logging(args.verbose, [os.environ.get(config.telegram.token_env, "")])
        return COMMANDS[args.command](config, args)
    except ArmswatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR
    except BrokenPipeError:  # `bot.py score | head`: the reader has all it wanted
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit
        return EXIT_OK


def cmd_run(config, args) -> int:
    from watchers.schedule import run_daemon

    fatal = asyncio.run(run_daemon(config))
    if fatal:
        print(f"error: {fatal}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def cmd_once(config, args) -> int:
    import time

    from watchers.app import open_app

    async def once() -> int:
        async with open_app(config) as app:
            results = await app.poll_all()
            app.pipeline.dispatch.flush_digests(time.time())
            report = await app.deliver_until(time.time() + args.wait)
        failed = [r for r in results if r.status in ("error", "gone", "deferred")]
        new = sum(r.new for r in results)
        print(
            f"polled {len(results)} feeds ({len(failed)} failed), {new} new items, "
            f"{report.sent} alerts sent, {report.failed} rejected, {report.waiting} queued",
            file=sys.stderr,
        )
        for result in failed:
            print(f"  feed {result.feed}: {result.error}", file=sys.stderr)
        unstored = any(r.status == "deferred" for r in results)  # polled again next run
        return EXIT_QUEUED if report.waiting or unstored else EXIT_OK

    return asyncio.run(once())


def cmd_check(config, args) -> int:
    from watchers.app import read_token
    from watchers.check import check_online, summarize
    from watchers.detection.rules import compile_rules

    rules = compile_rules(config)
    read_token(config)
    print("\n".join(summarize(config, rules)))
    if not args.online:
        return EXIT_OK
    results = asyncio.run(check_online(config))
    for feed, status in results:
        print(f"{feed.name}: {status}")
    return EXIT_ERROR if any(s.startswith("FAIL") for _, s in results) else EXIT_OK


def cmd_score(config, args) -> int:
    from watchers.detection.rules import compile_rules
    from watchers.score import score_lines

    rules = compile_rules(config)
    source = args.file or "<stdin>"
    try:
        stream = open(args.file, encoding="utf-8") if args.file else sys.stdin  # noqa: SIM115
    except OSError as exc:
        raise ArmswatchError(f"{args.file}: cannot read: {exc.strerror}") from None
    with stream:
        for record in score_lines(stream, rules, source, args.explain):
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    return EXIT_OK


def cmd_explain(config, args) -> int:
    from watchers.detection.rules import compile_rules
    from watchers.score import explain_text

    print("\n".join(explain_text(args.text, compile_rules(config))))
    return EXIT_OK


def cmd_export(config, args) -> int:
    import time

    from watchers.ops.export import story_events, write_export
    from watchers.store.connect import open_configured

    store = open_configured(config.storage_path, config.storage_url, config.lease)
    try:
        stories = story_events(store, time.time() - args.since)
    finally:
        store.close()
    out = contextlib.nullcontext(sys.stdout)
    if args.out:
        try:
            out = open(args.out, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise ArmswatchError(f"{args.out}: cannot write: {exc.strerror}") from None
    try:
        with out as stream:
            count = write_export(stories, stream, args.format)
    except BrokenPipeError:  # `export | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    print(f"exported {count} stories", file=sys.stderr)
    return EXIT_OK


def cmd_report(config, args) -> int:
    import time
    from pathlib import Path

    from watchers.app import read_token
    from watchers.ops.report import caption, draw_report, load_summary, send_photo
    from watchers.store.connect import open_configured

    now = time.time()
    store = open_configured(config.storage_path, config.storage_url, config.lease)
    try:
        summary = load_summary(store, now - args.since, now, args.top or config.report_top)
    finally:
        store.close()
    png = draw_report(summary)
    try:
        Path(args.out).write_bytes(png)
    except OSError as exc:
        raise ArmswatchError(f"{args.out}: cannot write: {exc.strerror}") from None
    print(f"{summary.stories} stories drawn to {args.out}", file=sys.stderr)
    token = read_token(config)
    if args.send and not token:
        raise ArmswatchError(f"--send needs a bot token in {config.telegram.token_env}")
    if args.send:
        from telegram.error import TelegramError

        try:
            asyncio.run(send_photo(config, token, png, caption(summary)))
        except TelegramError as exc:
            raise ArmswatchError(f"Telegram did not take the report: {exc}") from None
        print(f"sent to {config.telegram.chat_id}", file=sys.stderr)
    return EXIT_OK


def cmd_train(config, args) -> int:
    from pathlib import Path

    from watchers.detection.model import MODEL_FILE
    from watchers.detection.train import build_model, write_lemma_table
    from watchers.retrain import labelled_data, read_feedback

    data, extra = labelled_data(args.data), []
    if args.with_feedback:
        extra, skipped, _ = read_feedback(config.storage_path)
        print_feedback(len(extra), skipped)
    out = Path(args.out) if args.out else MODEL_FILE
    model = build_model(data, out, extra)
    if out == MODEL_FILE:
        write_lemma_table()
    about = model.about
    print(
        f"trained on {about['items']} items ({about['read']} read by the model, "
        f"{about['transfers']} transfers), C={about['C']}, unsure labels weigh "
        f"{about['unsure_weight']}, cross-validated F1 "
        f"{about['cv_f1']}, sides filled from a score of {model.fill}: {out}",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_eval(config, args) -> int:
    from watchers.retrain import evaluate, labelled_data, report

    data = labelled_data(args.data)
    evaluation, skipped = evaluate(data, config.storage_path, args.with_feedback)
    if args.with_feedback:
        print_feedback(len(evaluation.feedback), skipped)
    print("\n".join(report(evaluation, max(0, args.show))))
    return EXIT_OK


def print_feedback(used: int, skipped: int) -> None:
    print(
        f"stored labels: {used} used, {skipped} skipped (no title: a /missed link never seen)",
        file=sys.stderr,
    )


def cmd_feeds(config, args) -> int:
    import time
    from pathlib import Path

    from watchers.feedlist import export_feeds, import_feeds, list_feeds

    if args.action == "import":
        lines = import_feeds(config.path, Path(args.file), args.dry_run)
    elif args.action == "export":
        lines = [export_feeds(config).decode("utf-8").rstrip("\n")]
    else:
        lines = list_feeds(config, time.time())
    print("\n".join(lines))
    return EXIT_OK


def cmd_migrate(config, args) -> int:
    from watchers.config.schema import STORAGE
    from watchers.store.postgres import open_pg_store, safe_url
    from watchers.store.sqlite import open_store
    from watchers.store.transfer import copy_tables

    try:
        url = STORAGE["url"](args.to)
    except ValueError as exc:
        raise ArmswatchError(f"--to: {exc}") from None
    if not config.storage_path.exists():
        raise ArmswatchError(f"{config.storage_path}: no SQLite database to copy")
    source = open_store(config.storage_path)
    try:
        target = open_pg_store(url)
        try:
            copied = copy_tables(source, target)
        finally:
            target.close()
    finally:
        source.close()
    for table in copied:
        print(f"{table.table}: {table.read} rows, {table.copied} copied")
    print(
        f"copied {config.storage_path} into {safe_url(url)}; to use it, set [storage] url "
        f"in {config.path.name} in place of path",
        file=sys.stderr,
    )
    return EXIT_OK


COMMANDS = {
    "run": cmd_run,
    "once": cmd_once,
    "check": cmd_check,
    "score": cmd_score,
    "train": cmd_train,
    "eval": cmd_eval,
    "explain": cmd_explain,
    "export": cmd_export,
    "report": cmd_report,
    "feeds": cmd_feeds,
    "migrate": cmd_migrate,
}
