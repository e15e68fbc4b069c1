"""The gate: a small, fast suite run by the tests, with thresholds in ``eval/thresholds.yaml``.

It runs the keyword suite, the red-team opt-out and abuse cases, the agent cases tagged ``gate``
and, when the shared data is present, CLINC150 trained and measured on its first
:data:`CLINC_INTENTS` intents (:data:`CLINC_PER_INTENT` examples each). Figures are prefixed by
their part (``keywords.opt_out_recall``); a part that cannot run is listed in ``skipped``.
"""

from __future__ import annotations

from eval.agent_suites import cases_report, run_cases
from eval.cases import load_cases
from eval.demo import open_demo_agent
from eval.intent_suites import run_clinc
from eval.model_suites import keywords
from eval.paths import SUITES_DIR
from eval.report import Failure, Report
from eval.runner import RunOptions, SuiteSkipped, register

CLINC_INTENTS = 20
CLINC_PER_INTENT = 30
REDTEAM_TAGS = frozenset({"opt-out", "abuse"})


def _merge(into: Report, part: Report, name: str) -> None:
    into.summary |= {f"{name}.{k}": v for k, v in part.summary.items()}
    into.metrics[name] = part.metrics
    into.failures += [
        Failure(id=f"{name}/{f.id}", input=f.input, expected=f.expected, got=f.got, detail=f.detail, sources=f.sources)
        for f in part.failures
    ]


@register("gate")
def gate(options: RunOptions) -> Report:
    report = Report(suite="gate", summary={}, metrics={}, data="built-in suites + CLINC150 subset")
    _merge(report, keywords(RunOptions(settings=options.settings, progress=options.progress)), "keywords")
    redteam = [c for c in load_cases(SUITES_DIR / "redteam.yaml") if REDTEAM_TAGS & set(c.tags)]
    demo = [c for c in load_cases(SUITES_DIR / "demo_agent.yaml") if "gate" in c.tags]
    agent = open_demo_agent(options.settings, options.progress, use_llm=False)
    try:
        results = run_cases(agent, redteam + demo, options)
    finally:
        agent.close()
    _merge(report, cases_report("redteam", "redteam.yaml", results[: len(redteam)], "offline"), "redteam")
    _merge(report, cases_report("agent", "demo_agent.yaml", results[len(redteam) :], "offline"), "agent")
    skipped: dict[str, str] = {}
    try:
        clinc = run_clinc(
            RunOptions(
                settings=options.settings, progress=options.progress, backend=options.backend or "use-multilingual"
            ),
            intents=CLINC_INTENTS,
            per_intent=CLINC_PER_INTENT,
        )
        _merge(report, clinc, "clinc150")
    except SuiteSkipped as exc:
        skipped["clinc150"] = str(exc)
    report.metrics["skipped"] = skipped
    return report
