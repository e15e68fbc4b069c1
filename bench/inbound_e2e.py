"""Inbound texts answered by the bot on the production layout: webhook and reply latency, sustained rate.

    python -m bench.inbound_e2e [--rate 100] [--seconds 30] [--workers 2] [--ramp 50,100,150,200]

Layout (``bench/stack.py``): a fresh PostgreSQL database with the demo business loaded
(``relais demo load``: knowledge base, intents, profile — set-up, not timed), Redis, ``relais run
--no-workers`` (the API), ``--workers`` × ``relais worker`` (the first with the scheduler), the
real Vonage SDK over TLS to the fake Vonage provider (its own process). No Qdrant server here:
each process searches its own copy of the demo's local Qdrant folder (see ``bench/stack.py``).
The customer texts the shop's short code (``38100``, set up through the API with a throughput of
``--sender-rate`` msg/s so the provider's rate limit is not what is measured).

Timed path per text: a signed Vonage SMS API inbound webhook (open loop: text i is due at
``i / rate`` s; each from a new customer number, the demo FAQ questions in French and English
round-robin) → the API checks the signature and stores the event (the webhook's latency ends
here, at its 200) → the drain job on a worker, a batch of texts per transaction (contact,
conversation, message; the offline agent: language, intent, knowledge search, answer; no LLM; the
reply on the conversational lane) → in the same job, the delivery engine (claim, send authority,
limiter) → the Vonage SDK → the fake provider, which records when the first text for each customer number arrived. Reply
latency = that arrival − the webhook's scheduled send time; correlated by the customer's number.

Printed: webhook p50/p95, reply p50/p95, replies/s sustained over the window, lost (texts with no
reply at the provider after ``--drain`` s). Then a ramp (``--ramp``, ``--step-seconds`` each):
per rate, whether it is sustained — the reply backlog (texts sent − replies arrived, sampled each
second) does not grow over the second half of the step (slope < 5 % of the rate).

The limit of the path, in the same run: the raw embedder (the one the pipeline uses, batch 1, on
the same texts) in sentences/s, and the ratio replies/s ÷ sentences/s.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import subprocess
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import sqlalchemy as sa

from bench import fake_provider
from bench.loadgen import open_loop, percentile, sign_sms
from bench.stack import RELAIS, REPO, SIGNATURE_SECRET, Stack, add_common_arguments, load_average, production_stack

FAQ = REPO / "examples" / "maison-lumiere" / "knowledge" / "faq.csv"
SHORT_CODE = "38100"


def questions() -> list[str]:
    """The demo FAQ's questions (French and English): texts the bot answers from the knowledge base."""
    with FAQ.open(encoding="utf-8") as handle:
        return [row["question"] for row in csv.DictReader(handle)]


def raw_embedder_rate(texts: list[str], *, seconds: float) -> float:
    """Sentences/s of the pipeline's embedder, one text per call, in this process (the path's ceiling)."""
    from core.settings import get_settings
    from knowledge.embeddings import get_embedder

    embedder = get_embedder(get_settings().embedding_backend)
    embedder.embed(texts[:2])  # load and warm up outside the timing
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        embedder.embed([texts[done % len(texts)]])
        done += 1
    return done / (time.perf_counter() - started)


@dataclass
class Step:
    """One open-loop window at one rate, and what the provider saw for it."""

    rate: float
    seconds: float
    numbers: list[str] = field(default_factory=list)
    sent_at: dict[str, float] = field(default_factory=dict)
    webhook: list[float] = field(default_factory=list)
    errors: int = 0
    backlog: list[tuple[float, int]] = field(default_factory=list)

    def replies(self, arrivals: dict[str, float]) -> dict[str, float]:
        return {n: arrivals[n] - self.sent_at[n] for n in self.numbers if n in arrivals and n in self.sent_at}

    def growth(self) -> float:
        """Least-squares slope (texts/s) of the backlog over the second half of the step."""
        half = [(t, b) for t, b in self.backlog if t >= self.seconds / 2]
        if len(half) < 3:
            return 0.0
        mean_t = sum(t for t, _ in half) / len(half)
        mean_b = sum(b for _, b in half) / len(half)
        spread = sum((t - mean_t) ** 2 for t, _ in half)
        return sum((t - mean_t) * (b - mean_b) for t, b in half) / spread if spread else 0.0


def run_step(stack: Stack, step: Step, *, first: int, texts: list[str]) -> None:
    """Fire ``step`` (customer numbers from ``first`` on) and sample the reply backlog each second."""
    total = int(step.rate * step.seconds)
    step.numbers = [f"3364{first + i:07d}" for i in range(total)]
    bodies = [
        urlencode(sign_sms({"msisdn": number, "to": SHORT_CODE, "messageId": f"bench-{number}",
                            "text": texts[i % len(texts)], "type": "text",
                            "timestamp": str(int(time.time()))}, SIGNATURE_SECRET)).encode()
        for i, number in enumerate(step.numbers)
    ]  # fmt: skip
    wanted = set(step.numbers)
    done = threading.Event()
    started = time.time()

    def sample() -> None:
        while not done.wait(1.0):
            arrived = sum(1 for n in fake_provider.arrivals(stack.redis) if n in wanted)
            step.backlog.append((time.time() - started, len(step.sent_at) - arrived))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    def sent(index: int, at: float) -> None:
        step.sent_at[step.numbers[index]] = at

    step.webhook, step.errors = asyncio.run(
        open_loop(stack.api_port, "/webhooks/vonage/inbound", bodies, rate=step.rate, connections=16, on_sent=sent)
    )
    done.set()
    sampler.join()


def drain(stack: Stack, step: Step, *, seconds: float) -> dict[str, float]:
    """Wait until every text of ``step`` has its reply at the provider (or ``seconds`` pass)."""
    deadline = time.time() + seconds
    while True:
        replies = step.replies(fake_provider.arrivals(stack.redis))
        if len(replies) == len(step.numbers) or time.time() > deadline or stack.alive():
            return replies
        time.sleep(0.5)


def _stored(stack: Stack) -> tuple[int, int]:
    engine = sa.create_engine(stack.database_url)
    with engine.connect() as conn:
        inbound = int(conn.scalar(sa.text("SELECT count(*) FROM messages WHERE direction = 'in'")) or 0)
        outbound = int(conn.scalar(sa.text("SELECT count(*) FROM messages WHERE direction = 'out'")) or 0)
    engine.dispose()
    return inbound, outbound


def set_up(stack: Stack, *, sender_rate: float) -> None:
    """The shop's short code and the account's rate, through the API."""
    stack.client.post("/api/v1/senders", json={"kind": "short_code", "address": SHORT_CODE, "country": "FR",
                                               "throughput": sender_rate}).raise_for_status()  # fmt: skip
    stack.client.put("/api/v1/provider-accounts/default", json={"throughput": sender_rate}).raise_for_status()


def _demo_load(env: dict[str, str]) -> None:
    subprocess.run([RELAIS, "demo", "load"], env=env, cwd=REPO, check=True, capture_output=True)


def _warm_up(stack: Stack, texts: list[str], seconds: float) -> None:
    """A few texts before measuring, so each worker has loaded its models (a deployment runs warm)."""
    if seconds <= 0:
        return
    step = Step(rate=2, seconds=seconds)
    run_step(stack, step, first=9_000_000, texts=texts)
    drain(stack, step, seconds=300)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="texts per second (open loop)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--ramp", default="50,100,150,200", help="rates for the sustained-rate search; empty: none")
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--drain", type=float, default=120.0, help="how long to wait for the last replies")
    parser.add_argument("--sender-rate", type=float, default=250.0, help="the short code's and account's msg/s")
    parser.add_argument("--warm-up", type=float, default=10.0, help="seconds of 2 texts/s before measuring")
    parser.add_argument("--embedder-seconds", type=float, default=10.0)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    texts = questions()
    with production_stack(
        database_url=args.database_url, database_prefix=args.database_prefix, redis_url=args.redis_url,
        workers=args.workers, provider_processes=args.provider_processes, own_data_dirs=True, setup=_demo_load,
    ) as stack:  # fmt: skip
        set_up(stack, sender_rate=args.sender_rate)
        _warm_up(stack, texts, args.warm_up)
        limit = raw_embedder_rate(texts, seconds=args.embedder_seconds)
        load_before = load_average()
        main_step = Step(rate=args.rate, seconds=args.seconds)
        meter = stack.cpu_meter()
        meter.start()
        started = time.time()
        run_step(stack, main_step, first=0, texts=texts)
        replies = drain(stack, main_step, seconds=args.drain)
        meter.stop()
        metered_seconds = time.time() - started
        inbound, outbound = _stored(stack)
        ramp: list[tuple[Step, dict[str, float]]] = []
        for n, rate in enumerate(float(r) for r in args.ramp.split(",") if r.strip()):
            step = Step(rate=rate, seconds=args.step_seconds)
            run_step(stack, step, first=(n + 1) * 1_000_000, texts=texts)
            ramp.append((step, drain(stack, step, seconds=args.drain)))
        load_after = load_average()
    sent = len(main_step.numbers)
    arrived = sorted(main_step.sent_at[n] + d for n, d in replies.items())
    window = (arrived[-1] - min(main_step.sent_at.values())) if arrived else 0.0
    latencies = list(replies.values())
    print(f"layout              PostgreSQL + Redis, relais run --no-workers, {args.workers} relais worker, demo "
          f"business, offline bot, fake Vonage; short code at {args.sender_rate:g} msg/s (stated)")  # fmt: skip
    print(f"texts               {sent} at {args.rate:g}/s for {args.seconds:g} s; webhook failures {main_step.errors}")
    print(f"webhook (to 200)    p50 {percentile(main_step.webhook, .5) * 1000:.1f} ms, "
          f"p95 {percentile(main_step.webhook, .95) * 1000:.1f} ms")  # fmt: skip
    print(f"reply (to provider) p50 {percentile(latencies, .5) * 1000:.0f} ms, "
          f"p95 {percentile(latencies, .95) * 1000:.0f} ms, max {max(latencies, default=0) * 1000:.0f} ms")  # fmt: skip
    print(f"replies             {len(replies)} at the provider, {len(replies) / window if window else 0:.1f} msg/s "
          f"sustained; lost {sent - len(replies)} "
          f"(stored: {inbound} inbound, {outbound} outbound incl. warm-up)")  # fmt: skip
    reply_rate = len(replies) / window if window else 0.0
    print(f"path limit          raw embedder {limit:.0f} sentences/s (batch 1, same texts); "
          f"replies/s ÷ sentences/s = {reply_rate / limit:.2f}")  # fmt: skip
    print("processor time      from the first text to the last reply (or the drain's end), per component:")
    for line in meter.report(len(replies), metered_seconds):
        print(line.replace("msg", "reply"))
    for step, step_replies in ramp:
        growth = step.growth()
        lost = len(step.numbers) - len(step_replies)
        verdict = "sustained" if growth < 0.05 * step.rate and not lost else "NOT sustained"
        print(f"ramp {step.rate:5.0f}/s        backlog growth {growth:+.1f} texts/s, reply p95 "
              f"{percentile(list(step_replies.values()), .95) * 1000:.0f} ms, lost {lost}: {verdict}")  # fmt: skip
    print(f"machine             before: {load_before}; after: {load_after}")
    return 1 if sent - len(replies) else 0


if __name__ == "__main__":
    raise SystemExit(main())
