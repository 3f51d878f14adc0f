"""Several instances on one PostgreSQL: farm feeds polled by 1, 2 and 3 `bot.py run`
processes sharing a database, beside one instance on SQLite in the same run; then three
instances with one killed (-9) and restarted every minute, alerts going to a fake Bot API.

    python bench/instances.py --data ../shared/data     # 10,000 feeds at 60 s, 2 min a setup
    python bench/instances.py --data ../shared/data --feeds 2000 --seconds 60 --kill-minutes 3
    python bench/instances.py --data ../shared/data --kill-only --kill-minutes 5 --out k.md

Each setup starts warm (the database seeded as a first poll leaves it; PostgreSQL's by
`bot.py migrate --to` from the seeded SQLite file); the farm changes 10% of the feeds (3
new items each) every interval. Measured after one interval of warm-up, for --seconds:
polls per second (the farm's request log), polls per feed per interval (1.0: each feed
once, whatever the number of instances; measure whole intervals, as first polls bunch
early when several instances race for them), CPU per poll of the instances and of the
PostgreSQL server, and the poll gap minus the interval, p95 (lag).
Kill phase: lost = items the farm published that never reached the items table, plus
alerts left unsent after the outbox drained; duplicates = sendMessage calls beyond the
outbox's sent alerts (a kill mid-send may repeat that one send).
Figures are printed and written to bench/instances.md.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import NEWS, add_data_option, data_files  # noqa: E402
from harness import PYTHON, ROOT, FarmProcess, bot_env, seed_db, write_config  # noqa: E402
from soak import TICK, gaps, percentile  # noqa: E402

from tests.pgserver import PASSWORD, PgServer  # noqa: E402
from tests.servers import FakeBotAPI  # noqa: E402

TOKEN = "123456:BENCH-token"
CHAT = "@armswatch_test"


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system, with reaped children) of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return sum(int(v) for v in fields[11:15]) / TICK


def pg_cpu(server: PgServer) -> float:
    """CPU seconds of the PostgreSQL server: the postmaster and its live backends."""
    master = int((server.data / "postmaster.pid").read_text().split()[0])
    total = cpu_of(master)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                total += cpu_of(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


class Setup:
    """A bench config and its warm database, SQLite or (url) PostgreSQL."""

    def __init__(self, folder: Path, farm: FarmProcess, args, url: str | None, bot_api=None):
        telegram = None
        if bot_api:
            telegram = {"chat_id": f'"{CHAT}"', "api_base_url": f'"{bot_api.base_url}"'}
            telegram["per_minute"] = "6000"
        self.token = TOKEN if bot_api else None
        self.config = write_config(folder, farm, args.feeds, f"{args.interval:g}s", "1s", telegram)
        seed_db(folder / "bench.db", farm, args.feeds)
        self.url = url
        if url:
            done = subprocess.run(
                [
                    PYTHON,
                    str(ROOT / "bot.py"),
                    "--config",
                    str(self.config),
                    "migrate",
                    "--to",
                    url,
                ],
                capture_output=True,
                text=True,
                env=self.env(),
            )
            assert done.returncode == 0, done.stderr
            text = self.config.read_text().replace(
                f'path = "{folder / "bench.db"}"', f'url = "{url}"\nlease = "{args.lease:g}s"'
            )
            self.config.write_text(text)
        self.folder = folder
        self.logs: list[Path] = []

    def env(self) -> dict[str, str]:
        env = bot_env(self.token)
        env["PGPASSWORD"] = PASSWORD
        return env

    def start(self) -> subprocess.Popen:
        log = self.folder / f"bot{len(self.logs)}.log"
        self.logs.append(log)
        with open(log, "w") as err:
            return subprocess.Popen(
                [PYTHON, str(ROOT / "bot.py"), "--config", str(self.config), "run"],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=self.env(),
                cwd=ROOT,
            )


def stop(bots: list[subprocess.Popen]) -> None:
    for bot in bots:
        if bot.poll() is None:
            bot.send_signal(signal.SIGTERM)
    for bot in bots:
        try:
            bot.wait(timeout=30)
        except subprocess.TimeoutExpired:
            bot.kill()
            bot.wait()


def throughput(farm, server, args, instances: int, on_pg: bool) -> dict:
    """Run `instances` daemons for one warm-up interval and --seconds; the figures."""
    url = server.create_db() if on_pg else None
    with tempfile.TemporaryDirectory() as folder:
        setup = Setup(Path(folder), farm, args, url)
        farm.ctl("auto", every=args.interval, fraction=0.1, new=3, limit=args.feeds)
        bots = [setup.start() for _ in range(instances)]
        try:
            time.sleep(args.interval)
            start, cpu0, pg0 = time.time(), sum(cpu_of(b.pid) for b in bots), pg_cpu(server)
            time.sleep(args.seconds)
            end, cpu1, pg1 = time.time(), sum(cpu_of(b.pid) for b in bots), pg_cpu(server)
        finally:
            farm.ctl("auto", every=0)
            stop(bots)
        failed = sum(log.read_text().count("event=feed_failed") for log in setup.logs)
    hits = farm.ctl("hits", since=start - args.interval, limit=args.feeds)
    polls = sum(1 for feed in hits for t in feed if start <= t < end)
    lag = gaps(hits, args.interval, after=start, before=end)
    return {
        "setup": f"{instances} x {'PostgreSQL' if on_pg else 'SQLite'}",
        "polls_s": polls / (end - start),
        "per_interval": polls / (args.feeds * (end - start) / args.interval),
        "cpu_ms": 1000 * (cpu1 - cpu0) / max(polls, 1),
        "pg_ms": 1000 * (pg1 - pg0) / max(polls, 1) if on_pg else 0.0,
        "lag_p95": percentile(lag, 95),
        "failed": failed,
    }


def kill_loop(farm, server, args) -> dict:
    """Three instances, one killed -9 and restarted every minute; lost and duplicates."""
    rng = random.Random(12)
    url = server.create_db()
    with FakeBotAPI(TOKEN) as bot_api, tempfile.TemporaryDirectory() as folder:
        setup = Setup(Path(folder), farm, args, url, bot_api)
        heads = [s["head"] for s in farm.ctl("state", limit=args.feeds)]
        farm.ctl("auto", every=args.interval, fraction=0.1, new=3, limit=args.feeds)
        bots = [setup.start() for _ in range(3)]
        kills = 0
        try:
            for _ in range(int(args.kill_minutes)):
                time.sleep(60)
                victim = rng.randrange(3)
                bots[victim].send_signal(signal.SIGKILL)
                bots[victim].wait()
                kills += 1
                bots[victim] = setup.start()
            farm.ctl("auto", every=0)
            time.sleep(args.interval + args.lease + 30)  # the last changes polled and sent
        finally:
            farm.ctl("auto", every=0)
            stop(bots)
        sends = sum(
            1 for c in bot_api.calls if c.method.lower() == "sendmessage" and c.status == 200
        )
    return count_losses(server, url, farm, args, heads, kills, sends)


def count_losses(server, url, farm, args, heads, kills, sends) -> dict:
    import psycopg

    sys.path.insert(0, str(ROOT / "bench"))
    from feedgen import FeedMaker, load_news

    from watchers.feeds.parse import canonical_link

    maker = FeedMaker(load_news(farm.news))
    published = [
        canonical_link(maker.link(f, seq))
        for f, state in enumerate(farm.ctl("state", limit=args.feeds))
        for seq in range(heads[f] + 1, state["head"] + 1)
    ]
    with psycopg.connect(url, password=PASSWORD) as conn:
        stored = conn.execute("select count(*) from items where link = any(%s)", [published])
        stored = stored.fetchone()[0]
        alerts = "select count(*) from outbox where coalesce(kind, 'send') != 'edit' and status"
        unsent = conn.execute(alerts + " != 'sent'").fetchone()[0]
        sent = conn.execute(alerts + " = 'sent'").fetchone()[0]
    return {
        "kills": kills,
        "published": len(published),
        "lost_items": len(published) - stored,
        "alerts": sent,
        "unsent": unsent,
        "duplicates": sends - sent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds (60)")
    parser.add_argument(
        "--seconds", type=float, default=120.0, help="measured per setup: whole intervals (120)"
    )
    parser.add_argument("--lease", type=float, default=60.0, help="seconds (60)")
    parser.add_argument("--kill-minutes", type=float, default=10.0, help="0: no kill phase")
    parser.add_argument("--kill-only", action="store_true", help="no throughput setups")
    parser.add_argument("--out", default=str(ROOT / "bench" / "instances.md"))
    add_data_option(parser)
    args = parser.parse_args()
    data_files(args.data, NEWS)
    server = PgServer().start()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"# Several instances on one PostgreSQL ({when})",
        "",
        f"{args.feeds:,} farm feeds at {args.interval:g} s, 10% changed (3 new items) per "
        f"interval; {args.seconds:g} s measured after {args.interval:g} s of warm-up.",
        "",
        "| setup | polls/s | polls per feed per interval | CPU per poll, instances (ms) "
        "| CPU per poll, PostgreSQL (ms) | lag p95 (s) | failed polls |",
        "|---|---|---|---|---|---|---|",
    ]
    try:
        with FarmProcess(args.feeds, args.data) as farm:
            setups = [] if args.kill_only else [(1, False), (1, True), (2, True), (3, True)]
            for instances, on_pg in setups:
                r = throughput(farm, server, args, instances, on_pg)
                lines.append(
                    f"| {r['setup']} | {r['polls_s']:.1f} | {r['per_interval']:.2f} | "
                    f"{r['cpu_ms']:.2f} | {r['pg_ms']:.2f} | {r['lag_p95']:.2f} | {r['failed']} |"
                )
                print(lines[-1], flush=True)
            if args.kill_minutes:
                k = kill_loop(farm, server, args)
                lines += [
                    "",
                    f"Kill phase: 3 instances, one killed -9 and restarted every minute for "
                    f"{args.kill_minutes:g} minutes (lease {args.lease:g} s): {k['kills']} kills, "
                    f"{k['published']} items published, {k['lost_items']} never stored; "
                    f"{k['alerts']} alerts sent, {k['unsent']} left unsent, "
                    f"{k['duplicates']} duplicate sends.",
                ]
                print(lines[-1], flush=True)
    finally:
        server.close()
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
