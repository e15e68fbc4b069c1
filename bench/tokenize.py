"""Scans of customer text on hostile input: time per call on 100,000-character texts, against a linear pass.

    .venv/bin/python -m bench.tokenize [--chars 100000] [--repeat 3] [--no-pipeline]   (from the repository root)

Every scan of customer or marketer text must take time linear in its length: the BM25 code regex
took 82 s on 40,000 letters, holding the GIL and freezing the server (issue 15). For each shape
of input that made one of the old regexes backtrack, this prints the time of each real scan and
its ratio to one plain Python pass over the same characters (``for ch in text``), the floor of
any code that reads every character, then how much longer the scan takes on this text than on
one a quarter as long: about 4x for a linear scan, 16x for a quadratic one.
Then the whole inbound analysis, ``Pipeline.analyze`` on the demo business (offline, no LLM),
on the same texts: it analyses at most ``channels.limits.MAX_INBOUND_CHARS`` of each.

This is a benchmark, not a test: nothing here fails; compare the ratios.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.context import split_questions
from agent.injection import check_injection
from agent.keywords import match_keyword
from agent.language import clean_text
from agent.pii import redact
from campaigns.variants.rules import spam_rules
from knowledge.bm25 import tokenize

#: Repeated units that made an old pattern backtrack, and one ordinary sentence.
SHAPES: dict[str, str] = {
    "letters": "x",
    "code run": "A1",
    "hyphens": "a-",
    "dotted": "a.",
    "digits+dots": "1.",
    "blank lines": " \n",
    "product codes": "RX-200 ",
    "sentence": "Where is my order RX-200? ",
}
SCANS: dict[str, Callable[[str], Any]] = {
    "bm25.tokenize": tokenize,
    "pii.redact": redact,
    "language.clean_text": clean_text,
    "injection.check": check_injection,
    "context.split_questions": split_questions,
    "keywords.match": match_keyword,
    "rules.spam_rules": spam_rules,
}


def _linear_pass(text: str) -> None:
    for _ in text:
        pass


def _best_of(repeat: int, fn: Callable[[str], Any], text: str) -> float:
    """The fastest of ``repeat`` calls, in seconds (the least disturbed by the rest of the machine)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - started)
    return best


def _text(unit: str, chars: int) -> str:
    return (unit * (chars // len(unit) + 1))[:chars]


def _report(name: str, seconds: float, floor: float, quarter: float | None = None) -> None:
    growth = f"   x4 text: {seconds / quarter:5.1f} x time" if quarter else ""
    print(f"  {name:<24} {seconds * 1000:9.2f} ms   {seconds / floor:7.1f} x the linear pass{growth}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-pipeline", action="store_true", help="only the scans (no models to load)")
    args, _ = parser.parse_known_args()  # `relais bench` passes every benchmark the same options
    texts = {shape: _text(unit, args.chars) for shape, unit in SHAPES.items()}
    floors = {shape: _best_of(args.repeat, _linear_pass, text) for shape, text in texts.items()}
    worst: dict[str, tuple[float, float]] = {}
    for shape, text in texts.items():
        print(f"\n{shape!r} x {args.chars:,} chars: linear pass {floors[shape] * 1000:.2f} ms")
        quarter_text = _text(SHAPES[shape], args.chars // 4)
        for name, scan in SCANS.items():
            seconds = _best_of(args.repeat, scan, text)
            quarter = _best_of(args.repeat, scan, quarter_text)
            ratio, growth = worst.get(name, (0.0, 0.0))
            worst[name] = (max(ratio, seconds / floors[shape]), max(growth, seconds / quarter))
            _report(name, seconds, floors[shape], quarter)
    print("\nworst over the shapes, per scan:")
    for name, (ratio, growth) in worst.items():
        print(f"  {name:<24} {ratio:7.1f} x the linear pass   x4 text: {growth:5.1f} x time")
    if args.no_pipeline:
        return

    from bench.agent import build_pipeline  # loads the models: only when asked for

    with tempfile.TemporaryDirectory() as tmp:
        runtime, pipeline = build_pipeline(Path(tmp))
        print(f"\nwhole inbound analysis, Pipeline.analyze (offline), {args.chars:,} chars:")
        for shape, text in texts.items():
            _report(shape, _best_of(args.repeat, pipeline.analyze, text), floors[shape])
        runtime.close()


if __name__ == "__main__":
    main()
