"""armswatch: watch news feeds for arms transfers and alert a Telegram channel.

One item flows down the packages in this order:

    config/     config.toml -> a frozen Config
    feeds/      fetch -> prescan -> parse: new Items from a feed
    detection/  the reading and the verdict: is this an arms transfer, who, what, to whom
    stories/    one story, one alert: reports of the same event merged
    store/      the only SQL: items (new only), feed states, outbox, stories
    telegram/   message layout, digests, outbox delivery
    ops/        logs, metrics, exports, reports

models.py (the dataclasses between stages) and errors.py (the exception tree) sit below
all of them. The orchestration sits on top and is the only code that imports more than
one stage: app.py (wiring), pipeline.py (one feed's poll), dispatch.py (verdicts to the
outbox), schedule.py (the daemon), store_watch.py (telling when writes fail and work
again), admin.py and answers.py (admin commands), corrections.py (/wrong and /missed
stored as labels) and retrain.py (training on them: `train --with-feedback`, `eval`),
check.py and score.py (the check and score commands), and cli.py (the command line:
`armswatch`, `python bot.py`).
"""

__version__ = "0.1.0"
