"""Choose how the offline responder decides that a passage answers a question, on measured figures.

Run: ``python -m eval.training.answerability`` (builds the demo knowledge base in a temporary
folder, about 30 s; figures in docs/agent.md).

Cases: ``eval/datasets/answerability_demo.yaml``, questions about the demo shop in six languages,
each labelled with the topic that answers it, or ``none`` (and the topic a careful reply may state
without asserting). A method handles a case **right** when it answers an answerable question from
its topic, and abstains from an unanswerable one, or answers it from the ``known`` topic without
asserting (no "Yes," to "Do you ship to Japan?"). Methods compared, each over the same retrieved
candidates (``agent.pipeline.retrieve``: hybrid retrieval in the customer's language, English when
the knowledge base lacks it):

* ``retrieval``: what the responder did before: the best hit above the retrieval threshold, an FAQ
  entry within 0.05 preferred; nothing checks the question's entities.
* ``sentence``: candidates re-ranked by their best sentence's cosine with the question; abstain
  below a relevance threshold.
* ``entities``: retrieval order, plus the entity support check of ``agent.answerability``
  (covering passage preferred, unknown names abstain, contradicted passages answered without "Yes").
* ``sentence+entities``: both (``agent.answerability.rank`` / ``choose``).

Every threshold is swept on the ``choose`` split only; the ``report`` split is measured with the
values chosen there. ``intent+entities`` takes the support margin the ``entities`` method chose
(the margin belongs to the entity check, and is what runs when no intent is sure) and sweeps the
intent weight and the relevance threshold.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from agent.answerability import CachedEmbed, Candidate, IntentExamples, choose, kb_mentions, rank
from agent.intent import load_deployment_spec, train_intents
from agent.intent.classifier import IntentClassifier
from agent.intent.spec import builtin_names
from agent.pipeline import PLACE_TOP_K, TOP_K, retrieval_depth, retrieve
from core.settings import Settings, load_settings
from eval.paths import REPO
from knowledge.base import KnowledgeBase
from knowledge.types import Hit

DATASET = REPO / "eval" / "datasets" / "answerability_demo.yaml"
DEMO_KNOWLEDGE = REPO / "examples" / "maison-lumiere" / "knowledge"
DEMO_INTENTS = REPO / "examples" / "maison-lumiere" / "intents.yaml"
WEIGHTS = (0.0, 0.5, 1.0, 1.5, 2.0)
MARGINS = (0.0, 0.12, 0.25, 0.5)
THRESHOLDS = tuple(round(0.30 + 0.02 * i, 2) for i in range(16))
KB = "default"
RETRIEVAL_MIN_SCORE = 0.35
#: The old responder preferred an FAQ entry within this cosine of the best hit.
FAQ_PREFERENCE = 0.05


@dataclass(frozen=True)
class Case:
    question: str
    language: str
    topic: str
    known: str | None
    split: str


@dataclass(frozen=True)
class Outcome:
    """What a method did with a case: the topic answered from (None: abstained), and whether the
    reply asserts (keeps the passage's opening "Yes")."""

    topic: str | None
    asserts: bool


def load_cases(path: Path = DATASET) -> tuple[dict[str, str], list[Case]]:
    """The topic table and the labelled cases."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases = [Case(question=c["q"], language=c["lang"], topic=c["topic"], known=c.get("known"), split=c["split"])
             for c in data["cases"]]
    return dict(data["topics"]), cases


def topic_of(hit: Hit, topics: dict[str, str], faq_pairs: dict[str, str]) -> str | None:
    """The topic id of a retrieved passage (FAQ entries by question, either language)."""
    english = faq_pairs.get(hit.question or "", hit.question)
    for topic, key in topics.items():
        if key == english:
            return topic
        if key.startswith("section:") and hit.headings and hit.headings[-1] in key.removeprefix("section:").split("|"):
            return topic
    return None


def faq_pairs(path: Path) -> dict[str, str]:
    """Each FAQ question -> the English question of its topic (rows come in en/fr pairs)."""
    import csv

    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    pairs: dict[str, str] = {}
    for english, other in zip(rows[::2], rows[1::2], strict=True):
        pairs[english["question"]] = english["question"]
        pairs[other["question"]] = english["question"]
    return pairs


def right(case: Case, outcome: Outcome) -> bool:
    if case.topic != "none":
        return outcome.topic == case.topic
    return outcome.topic is None or (outcome.topic == case.known and not outcome.asserts)


def _starts_with_yes(hit: Hit) -> bool:
    body = (hit.answer if hit.answer is not None else hit.text).strip().casefold()
    return body.startswith(("yes", "oui", "sí", "si ", "ja", "sim"))


def baseline(hits: Sequence[Hit], language: str) -> Hit | None:
    """The pre-answerability choice (agent.responder.offline before this change)."""
    usable = [h for h in hits[:3] if h.score >= RETRIEVAL_MIN_SCORE]
    if not usable:
        return None
    best = usable[0]
    if best.is_faq and best.language == language:
        return best
    near = [h for h in usable if h.is_faq and h.score >= best.score - FAQ_PREFERENCE]
    near.sort(key=lambda h: (h.language != language, -h.score))
    return near[0] if near else best


Params = tuple[float, float, float]  # intent weight, support margin, minimum relevance
Item = tuple[Case, list[Hit], dict[tuple[float, float], list[Candidate]]]


def run(kb: KnowledgeBase, classifier: IntentClassifier, min_confidence: float, home: str) -> None:
    topics, cases = load_cases()
    pairs = faq_pairs(DEMO_KNOWLEDGE / "faq.csv")
    known = kb_mentions(lambda name: kb.search(name, kb=KB, k=3, mode="bm25"))
    # every (weight, margin) ranking embeds the same passages: each text once, as the pipeline does
    embed = CachedEmbed(kb.embedder.embed)
    examples = IntentExamples({i.name: i.all_examples() for i in classifier.spec.intents
                               if i.name not in builtin_names()}, embed)
    items: list[Item] = []
    for case in cases:
        vector = embed([case.question])[0]
        hits = retrieve(kb, case.question, vector, kb=KB, language=case.language, k=retrieval_depth(case.question),
                        home=home)
        prediction = classifier.predict_embeddings(vector[None, :])[0]
        sure = prediction.intent if prediction.confidence >= min_confidence else None
        ranked = {(w, m): rank(case.question, vector, hits, language=case.language, embed=embed, known_name=known,
                               intent_examples=examples.get(sure), intent_weight=w, support_margin=m, home=home)
                  for w in WEIGHTS for m in MARGINS}
        items.append((case, hits, ranked))

    def topic(hit: Hit | None) -> str | None:
        return None if hit is None else topic_of(hit, topics, pairs)

    def answered(candidate: Candidate | None) -> Outcome:
        if candidate is None:
            return Outcome(None, False)
        return Outcome(topic(candidate.hit), _starts_with_yes(candidate.hit) and candidate.support != "contradicted"
                       and candidate.asserts)

    def m_retrieval(_: Params, item: Item) -> Outcome:
        chosen = baseline(item[1], item[0].language)
        return Outcome(topic(chosen), chosen is not None and _starts_with_yes(chosen))

    def m_sentence(params: Params, item: Item) -> Outcome:
        plain = sorted(item[2][0.0, 0.0], key=lambda c: -c.relevance)
        if not plain or plain[0].relevance < params[2]:
            return Outcome(None, False)
        return Outcome(topic(plain[0].hit), _starts_with_yes(plain[0].hit))

    def m_intent(params: Params, item: Item) -> Outcome:
        ordered = sorted(item[2][params[0], 0.0], key=lambda c: -c.score)
        if not ordered or ordered[0].relevance < params[2]:
            return Outcome(None, False)
        return Outcome(topic(ordered[0].hit), _starts_with_yes(ordered[0].hit))

    def m_entities(params: Params, item: Item) -> Outcome:
        return answered(choose(item[2][0.0, params[1]], params[2]))

    def m_both(params: Params, item: Item) -> Outcome:
        return answered(choose(item[2][params[0], params[1]], params[2]))

    methods: dict[str, tuple[Callable[[Params, Item], Outcome], Sequence[Params]]] = {
        "retrieval": (m_retrieval, [(0.0, 0.0, 0.0)]),
        "sentence": (m_sentence, [(0.0, 0.0, t) for t in THRESHOLDS]),
        "intent": (m_intent, [(w, 0.0, t) for w in WEIGHTS if w > 0 for t in THRESHOLDS]),
        "entities": (m_entities, [(0.0, m, t) for m in MARGINS for t in THRESHOLDS]),
        # its support margin is the one the entity method chose (see below)
        "intent+entities": (m_both, []),
    }
    print(f"{len(cases)} cases: {sum(c.split == 'choose' for c in cases)} choose, "
          f"{sum(c.split == 'report' for c in cases)} report; {TOP_K} candidates per question "
          f"({PLACE_TOP_K} when it names a place)\n")
    print(f"{'method':<16} {'weight':>6} {'margin':>6} {'min rel.':>8} {'choose':>7} {'report':>7} {'answerable':>10} "
          f"{'unanswerable':>12} {'wrong answers':>13}")
    choose_items = [item for item in items if item[0].split == "choose"]
    report = [item for item in items if item[0].split == "report"]
    chosen_params: dict[str, Params] = {}
    for name, (method, sweep) in methods.items():
        if name == "intent+entities":
            sweep = [(w, chosen_params["entities"][1], t) for w in WEIGHTS if w > 0 for t in THRESHOLDS]
        # ties: the smallest weight and margin, then the threshold nearest the middle of the range
        best = max(sweep, key=lambda p: (sum(right(i[0], method(p, i)) for i in choose_items), -p[0], -p[1],
                                         -abs(p[2] - 0.42)))

        def share(subset: list[Item], params: Params = best,
                  method: Callable[[Params, Item], Outcome] = method) -> str:
            return f"{sum(right(i[0], method(params, i)) for i in subset) / len(subset):.1%}"

        chosen_params[name] = best
        wrong = sum(1 for i in report if (o := method(best, i)).topic is not None and not right(i[0], o))
        print(f"{name:<16} {best[0]:>6.1f} {best[1]:>6.2f} {best[2]:>8.2f} {share(choose_items):>7} {share(report):>7} "
              f"{share([i for i in report if i[0].topic != 'none']):>10} "
              f"{share([i for i in report if i[0].topic == 'none']):>12} {wrong:>13}")
        if name == "intent+entities":
            chosen = best
            # what each margin would have given: the choosing split cannot tell them apart
            for margin in MARGINS:
                params = (best[0], margin, best[2])
                print(f"{'  margin':<16} {best[0]:>6.1f} {margin:>6.2f} {best[2]:>8.2f} "
                      f"{share(choose_items, params):>7} {share(report, params):>7}")
    print(f"\nreport split, intent+entities at {chosen}, cases handled wrong:")
    for item in report:
        outcome = m_both(chosen, item)
        if not right(item[0], outcome):
            print(f"  {item[0].question!r}: expected {item[0].topic}, got {outcome.topic}")


def demo_classifier(settings: Settings) -> IntentClassifier:
    """The demo shop's intent model (trained here, as ``relais demo load`` does)."""
    return train_intents(load_deployment_spec(DEMO_INTENTS), backend=settings.intent_backend)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(data_dir=Path(folder), llm_base_url="", llm_model="")
        kb = KnowledgeBase.from_settings(settings)
        try:
            kb.ingest_path(DEMO_KNOWLEDGE, kb=KB)
            run(kb, demo_classifier(settings), settings.intent_min_confidence, settings.default_region)
        finally:
            kb.close()


if __name__ == "__main__":
    main()
