"""Whole-agent suites on the demo business: ``agent`` (demo_agent.yaml), ``redteam`` and ``retrieval``.

A case's ``turns`` are sent first, in order, each analysed with the conversation so far (the bot's
replies included), then ``text`` is analysed with that history: the checks apply to its
:class:`agent.pipeline.Analysis`. Cases run in parallel threads (``RunOptions.workers``); results
keep the file's order, so a run is deterministic.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.context import Turn
from agent.llm import get_llm
from agent.pipeline import Analysis
from eval import metrics
from eval.cases import Case, load_cases
from eval.demo import DemoAgent, open_demo_agent
from eval.groundedness import groundedness, judge_llm
from eval.paths import SUITES_DIR
from eval.report import Failure, Report, intent_choices
from eval.runner import RunOptions, register
from knowledge.types import Hit

DEMO_INTENTS = "examples/maison-lumiere/intents.yaml + the built-in intents"


@dataclass
class CaseResult:
    """One case's final analysis, wall time, and what went wrong (empty when it passed)."""

    case: Case
    analysis: Analysis
    seconds: float
    problems: list[str] = field(default_factory=list)
    groundedness: float | None = None
    coverage: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems


def _source_names(analysis: Analysis) -> list[str]:
    used = {s.chunk_id for s in analysis.decision.sources}
    return [_hit_name(h) for h in analysis.hits if h.chunk_id in used]


def _hit_name(hit: Hit) -> str:
    return f"{hit.document_id}: {hit.question or hit.heading_path or hit.title}"


def check(case: Case, analysis: Analysis) -> list[str]:
    """Each expectation the analysis misses, as a short sentence."""
    want, decision, problems = case.expect, analysis.decision, []
    if want.decisions() and decision.action not in want.decisions():
        problems.append(f"decision {decision.action} ({decision.reason_code}), expected {'/'.join(want.decisions())}")
    if want.intent is not None and (decision.intent or "oos") != want.intent:
        problems.append(f"intent {decision.intent or 'oos'}, expected {want.intent}")
    if want.language is not None and decision.language != want.language:
        problems.append(f"language {decision.language}, expected {want.language}")
    if want.sentiment is not None and (analysis.sentiment is None or analysis.sentiment.label != want.sentiment):
        label = analysis.sentiment.label if analysis.sentiment else None
        problems.append(f"sentiment {label}, expected {want.sentiment}")
    if want.source is not None and not any(want.source.casefold() in n.casefold() for n in _source_names(analysis)):
        problems.append(f"source {want.source!r} not among the reply's sources")
    facts = metrics.fact_coverage(decision.reply or "", want.must_contain, want.must_not_contain)
    if facts["missing"]:
        problems.append(f"reply lacks {facts['missing']}")
    if facts["leaked"]:
        problems.append(f"reply contains forbidden {facts['leaked']}")
    return problems


def run_case(agent: DemoAgent, case: Case) -> CaseResult:
    """Play the case's turns, then analyse its message (LLM path when one is configured)."""
    history: list[Turn] = []
    language = case.contact_language
    for text in case.turns:
        earlier = agent.pipeline.analyze(text, contact_language=language, history=history, kb=agent.kb)
        history.append(Turn("customer", text))
        if earlier.decision.reply:
            history.append(Turn("bot", earlier.decision.reply))
        language = language or earlier.decision.language
    started = time.perf_counter()
    analysis = agent.pipeline.analyze(case.text, contact_language=language, history=history, kb=agent.kb)
    seconds = time.perf_counter() - started
    result = CaseResult(case, analysis, seconds, check(case, analysis))
    result.coverage = metrics.fact_coverage(analysis.decision.reply or "", case.expect.must_contain,
                                            case.expect.must_not_contain)
    used = {s.chunk_id for s in analysis.decision.sources}
    passages = [h.answer or h.text for h in analysis.hits if h.chunk_id in used]
    if analysis.decision.reply and passages:
        llm = agent.pipeline.llm
        judged = judge_llm(llm, analysis.decision.reply, passages) if llm is not None else None
        result.groundedness = judged if judged is not None else groundedness(
            analysis.decision.reply, passages, agent.pipeline.embedder)
    return result


def run_cases(agent: DemoAgent, cases: Sequence[Case], options: RunOptions) -> list[CaseResult]:
    """Every case, ``options.workers`` at a time, in the file's order."""
    options.progress.start(f"{len(cases)} agent cases", len(cases))

    def one(case: Case) -> CaseResult:
        result = run_case(agent, case)
        options.progress.advance()
        return result

    with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
        return list(pool.map(one, cases))


def cases_summary(results: Sequence[CaseResult]) -> tuple[dict[str, float | int | None], dict[str, Any]]:
    """Headline figures and detailed metrics of a run of cases."""
    definite = [r for r in results if len(r.case.expect.decisions()) == 1]
    expected = [r.case.expect.decisions()[0] for r in definite]
    got = [r.analysis.decision.action for r in definite]
    escalation = metrics.binary([e == "escalate" for e in expected], [g == "escalate" for g in got])
    opt_out = metrics.binary([e == "opt_out" for e in expected], [g == "opt_out" for g in got])
    with_decision = [r for r in results if r.case.expect.decisions()]
    intents = [r for r in results if r.case.expect.intent is not None]
    languages = [r for r in results if r.case.expect.language is not None]
    sources = [r for r in results if r.case.expect.source is not None]
    facts = [r for r in results if r.case.expect.must_contain]
    grounded = [r.groundedness for r in results if r.groundedness is not None]
    latency = metrics.latency([r.seconds for r in results])
    # a figure with nothing to measure (no gold escalation, nothing judged) is None: "n/a", never 1.0
    summary: dict[str, float | int | None] = {
        "pass_rate": metrics.share([r.passed for r in results]),
        "decision_accuracy": metrics.share([r.analysis.decision.action in r.case.expect.decisions()
                                            for r in with_decision]),
        "escalation_precision": escalation["precision"],
        "escalation_recall": escalation["recall"],
        "opt_out_recall": opt_out["recall"],
        "intent_accuracy": metrics.share([(r.analysis.decision.intent or "oos") == r.case.expect.intent
                                          for r in intents]),
        "language_accuracy": metrics.share([r.analysis.decision.language == r.case.expect.language for r in languages]),
        "source_accuracy": metrics.share([not any("source" in p for p in r.problems) for r in sources]),
        "fact_coverage": metrics.mean([float(r.coverage["coverage"]) for r in facts]),
        "leak_free": metrics.share([not r.coverage.get("leaked") for r in results]),
        "groundedness": metrics.mean(grounded),
        "latency_p50_ms": latency["p50_ms"],
        "latency_p95_ms": latency["p95_ms"],
        "cases": len(results),
    }
    # a ledger opt-out on a case that does not allow one (harmless look-alikes above all): goal 0
    no_opt_out = [r.analysis.decision.action == "opt_out" for r in with_decision
                  if "opt_out" not in r.case.expect.decisions()]
    if no_opt_out:
        summary["false_opt_out_rate"] = round(sum(no_opt_out) / len(no_opt_out), 4)
    # opt-out requests that got either the opt-out or the question "reply STOP" (an unsure
    # natural-language opt-out, agent/policy.py): none may be left unanswered
    asked = [r.analysis.decision.action in ("opt_out", "confirm_opt_out") for r in with_decision
             if "opt_out" in r.case.expect.decisions()]
    if asked:
        summary["opt_out_handled"] = round(sum(asked) / len(asked), 4)
    detail = {"escalation": escalation, "opt_out": opt_out, "latency": latency,
              "groundedness_judged": len(grounded),
              "paths": dict(sorted(_count(r.analysis.decision.path for r in results).items()))}
    return summary, detail


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[str(value)] += 1
    return counts


def cases_report(suite: str, data: str, results: Sequence[CaseResult], path: str) -> Report:
    """A report listing every failing case with its input, expectation, decision and sources."""
    summary, detail = cases_summary(results)
    by_tag: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        for tag in r.case.tags or ["untagged"]:
            by_tag[tag].append(r.passed)
    failures = [
        Failure(id=r.case.id, input=" ⏎ ".join([*r.case.turns, r.case.text]),
                expected=r.case.expect.model_dump(exclude_defaults=True),
                got={"action": r.analysis.decision.action, "reason": r.analysis.decision.reason_code,
                     "intent": r.analysis.decision.intent, "language": r.analysis.decision.language,
                     "reply": r.analysis.decision.reply},
                detail="; ".join(r.problems), sources=_source_names(r.analysis))
        for r in results if not r.passed
    ]
    return Report(suite=suite, summary=summary, metrics=detail | {"cases": [
        {"id": r.case.id, "passed": r.passed, "problems": r.problems,
         "decision": r.analysis.decision.to_dict(with_reply=True)}
        for r in results]}, charts={"Pass rate by tag": {t: sum(v) / len(v) for t, v in sorted(by_tag.items())}},
        failures=failures, data=data, path=path)


def run_case_file(suite: str, default: Path, options: RunOptions, tags: Sequence[str] = ()) -> Report:
    """Load a cases file (``options.data`` or ``default``), keep ``tags`` if given, run on the demo agent."""
    path = options.data or default
    cases = load_cases(path)
    if tags:
        cases = [c for c in cases if set(tags) & set(c.tags)]
    if options.limit is not None:
        cases = cases[: options.limit]
    agent = open_demo_agent(options.settings, options.progress)
    try:
        results = run_cases(agent, cases, options)
    finally:
        agent.close()
    path_name = "llm" if get_llm(options.settings) is not None else "offline"
    report = cases_report(suite, str(path), results, path_name)
    if agent.pipeline.intents is not None:
        report.choices = intent_choices(agent.pipeline.intents, DEMO_INTENTS)
    return report


@register("agent")
def agent_suite(options: RunOptions) -> Report:
    return run_case_file("agent", SUITES_DIR / "demo_agent.yaml", options)


@register("redteam")
def redteam(options: RunOptions) -> Report:
    report = run_case_file("redteam", SUITES_DIR / "redteam.yaml", options)
    report.failure_limit = None  # QA reads every red-team failure
    return report


@register("retrieval")
def retrieval(options: RunOptions) -> Report:
    path = options.data or SUITES_DIR / "demo_retrieval.yaml"
    cases = [c for c in load_cases(path) if c.expect.source]
    if options.limit is not None:
        cases = cases[: options.limit]
    agent = open_demo_agent(options.settings, options.progress, use_llm=False)
    options.progress.start(f"{len(cases)} retrieval queries", len(cases))
    ranks: list[int | None] = []
    seconds: list[float] = []
    failures = []
    try:
        for case in cases:
            started = time.perf_counter()
            hits = agent.search(case.text)
            seconds.append(time.perf_counter() - started)
            names = [_hit_name(h) for h in hits]
            want = str(case.expect.source).casefold()
            rank = next((i for i, n in enumerate(names, start=1) if want in n.casefold()), None)
            ranks.append(rank)
            if rank != 1:
                failures.append(Failure(id=case.id, input=case.text, expected=case.expect.source,
                                        got=f"rank {rank}" if rank else "not in the top 10",
                                        sources=names[:3]))
            options.progress.advance()
    finally:
        agent.close()
    found = metrics.retrieval(ranks)
    latency = metrics.latency(seconds)
    summary = found | {"latency_p50_ms": latency["p50_ms"], "n": len(cases)}
    return Report(suite="retrieval", summary=summary, metrics={"retrieval": found, "ranks": ranks,
                                                                "latency": latency},
                  charts={"Retrieval": found}, failures=failures, data=str(path))
