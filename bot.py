#!/usr/bin/env python3
"""armswatch command line: run the daemon, poll once, check the config, score texts."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import warnings

from watchers.config import load_config
from watchers.errors import ArmswatchError

EXIT_OK, EXIT_ERROR, EXIT_QUEUED = 0, 1, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot.py", description=__doc__)
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
    for sub in commands.choices.values():
        sub.add_argument("--config", default=argparse.SUPPRESS, help="config file")
        sub.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # PTB warns about retry_after becoming a timedelta; deliver.py handles both types.
    warnings.filterwarnings("ignore", message="Deprecated since version v22.2")
    from watchers.logs import setup_logging

    try:
        config = load_config(args.config)
        setup_logging(args.verbose, [os.environ.get(config.telegram.token_env, "")])
        return COMMANDS[args.command](config, args)
    except ArmswatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR


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
            report = await app.deliver_until(time.time() + args.wait)
        failed = [r for r in results if r.status in ("error", "gone")]
        new = sum(r.new for r in results)
        print(
            f"polled {len(results)} feeds ({len(failed)} failed), {new} new items, "
            f"{report.sent} alerts sent, {report.failed} rejected, {report.waiting} queued",
            file=sys.stderr,
        )
        for result in failed:
            print(f"  feed {result.feed}: {result.error}", file=sys.stderr)
        return EXIT_QUEUED if report.waiting else EXIT_OK

    return asyncio.run(once())


def cmd_check(config, args) -> int:
    from watchers.app import compile_rules, read_token
    from watchers.check import check_online, summarize

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
    from watchers.app import compile_rules
    from watchers.score import score_lines

    rules = compile_rules(config)
    source = args.file or "<stdin>"
    try:
        stream = open(args.file, encoding="utf-8") if args.file else sys.stdin  # noqa: SIM115
    except OSError as exc:
        raise ArmswatchError(f"{args.file}: cannot read: {exc.strerror}") from None
    with stream:
        for record in score_lines(stream, rules, source, args.explain):
            print(json.dumps(record, ensure_ascii=False))
    return EXIT_OK


def cmd_explain(config, args) -> int:
    from watchers.app import compile_rules
    from watchers.score import explain_text

    print("\n".join(explain_text(args.text, compile_rules(config))))
    return EXIT_OK


COMMANDS = {
    "run": cmd_run,
    "once": cmd_once,
    "check": cmd_check,
    "score": cmd_score,
    "explain": cmd_explain,
}

if __name__ == "__main__":
    sys.exit(main())
