"""Knowledge base benchmark: ingest throughput, search latency and retrieval quality.

    .venv/bin/python -m bench.knowledge [--chunks 8000] [--queries 200]    (from the repository root)

1. Ingest: synthetic Markdown documents (front matter language en/fr/es/de, one tag of ten,
   sections of ~100 words, so one chunk per section) through the real parser, chunker,
   multilingual embedder and a local-mode Qdrant folder; then a re-ingest of the same files
   (nothing to embed).
2. Search latency p50/p95 over that store: dense-only and hybrid, unfiltered and filtered by
   language, by tag and by both; a search in local Qdrant itself alongside for comparison (the
   retriever searches its in-memory copy of the vectors in local mode).
   Queries come with precomputed vectors (as the agent pipeline passes them), so the figures are
   retrieval only; the embedding of one query is timed separately.
3. Quality: the bilingual shop FAQ of tests/knowledge/data, paraphrased and keyword questions,
   hit@1 / hit@3 / MRR for dense-only, BM25-only, hybrid (linear fusion, the default) and RRF.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from knowledge.base import KnowledgeBase
from knowledge.embeddings import get_embedder
from knowledge.quality import evaluate, load_cases
from knowledge.retrieve import Mode, Retriever
from knowledge.store import VectorStore

DATA = Path(__file__).resolve().parent.parent / "tests" / "knowledge" / "data"
LANGUAGES = ("en", "fr", "es", "de")
TAGS = tuple(f"topic{i}" for i in range(10))


def _vocabulary() -> list[str]:
    words = (DATA / "shop_faq.csv").read_text("utf-8").replace(",", " ").replace('"', " ").split()
    return sorted({w.strip("?.!;:()»«") for w in words if w.isalpha() and len(w) > 2})


def _write_corpus(root: Path, chunks: int, rng: random.Random) -> int:
    vocab = _vocabulary()
    sections_per_doc = 20
    docs = max(1, chunks // sections_per_doc)
    for d in range(docs):
        lines = [
            "---",
            f"language: {LANGUAGES[d % len(LANGUAGES)]}",
            f"tags: [{TAGS[d % len(TAGS)]}]",
            "---",
            f"# Guide {d}",
        ]
        for s in range(sections_per_doc):
            lines.append(f"## Part {s} code PX-{d * sections_per_doc + s}")
            sentences = [
                " ".join(rng.choice(vocab) for _ in range(rng.randint(10, 18))).capitalize() + "." for _ in range(7)
            ]
            lines.append(" ".join(sentences))
        (root / f"guide{d:04d}.md").write_text("\n\n".join(lines), "utf-8")
    return docs


def _percentiles(samples: list[float]) -> str:
    ms = sorted(1000 * s for s in samples)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"p50 {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms"


def _time(fn: Callable[[int], object], n: int) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return samples


def bench_ingest_and_search(chunks: int, queries: int) -> None:
    rng = random.Random(42)
    embedder = get_embedder()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        docs = _write_corpus(corpus, chunks, rng)
        base = KnowledgeBase(VectorStore(dim=embedder.dim, path=Path(tmp) / "qdrant"), embedder)
        start = time.perf_counter()
        results = base.ingest_path(corpus, kb="bench")
        elapsed = time.perf_counter() - start
        total = sum(r.chunks for r in results)
        print(f"ingest: {docs} documents, {total} chunks in {elapsed:.1f} s = {total / elapsed:.0f} chunks/s (local)")
        texts = [f"sample text number {i} about delivery and returns" for i in range(512)]
        start = time.perf_counter()
        embedder.embed(texts)
        print(f"  of which embedding alone runs at ~{512 / (time.perf_counter() - start):.0f} texts/s")
        start = time.perf_counter()
        again = base.ingest_path(corpus, kb="bench")
        elapsed = time.perf_counter() - start
        print(
            f"re-ingest unchanged: {sum(r.unchanged for r in again)} kept, {sum(r.embedded for r in again)} embedded, "
            f"{elapsed:.1f} s = {total / elapsed:.0f} chunks/s"
        )

        vocab = _vocabulary()
        texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(3, 9))) for _ in range(queries)]
        vectors = embedder.embed(texts)
        start = time.perf_counter()
        base.retriever.index("bench")
        print(f"BM25 index build from the store: {time.perf_counter() - start:.2f} s for {total} chunks")
        print(f"embed one query: {_percentiles(_time(lambda i: embedder.embed([texts[i]]), queries))}")
        filters: list[tuple[str, str | None, list[str] | None]] = [
            ("no filter", None, None),
            ("language", "fr", None),
            ("tag", None, ["topic3"]),
            ("language + tag", "de", ["topic7"]),
        ]
        modes: tuple[Mode, ...] = ("dense", "hybrid")
        for label, language, tags in filters:
            for mode in modes:

                def search(
                    i: int, language: str | None = language, tags: list[str] | None = tags, mode: Mode = mode
                ) -> object:
                    return base.search(
                        texts[i], kb="bench", k=5, query_vector=vectors[i], mode=mode, language=language, tags=tags
                    )

                print(f"search {mode:6s} {label:15s} {_percentiles(_time(search, queries))}")

            def native(i: int, language: str | None = language, tags: list[str] | None = tags) -> object:
                return base.store.search("bench", vectors[i], limit=20, language=language, tags=tags)

            print(f"  (Qdrant local search itself, {label}: {_percentiles(_time(native, min(queries, 50)))})")
        base.close()


def bench_quality() -> None:
    embedder = get_embedder()
    store = VectorStore(dim=embedder.dim, location=":memory:")
    for fusion in ("linear", "rrf"):
        weight = 0.1 if fusion == "linear" else 1.0
        base = KnowledgeBase(store, embedder, retriever=Retriever(store, embedder, fusion=fusion, bm25_weight=weight))
        base.ingest_path(DATA / "shop_faq.csv", kb="shop")
        for name in ("shop_queries", "shop_keyword_queries"):
            cases = load_cases(DATA / f"{name}.json")
            modes: tuple[Mode, ...] = ("dense", "bm25", "hybrid") if fusion == "linear" else ("hybrid",)
            for mode in modes:
                for language in ("en", "fr"):
                    subset = [c for c in cases if c.language == language]
                    s = evaluate(base, subset, kb="shop", mode=mode)
                    label = f"{mode} ({fusion})" if mode == "hybrid" else mode
                    print(
                        f"quality {name:21s} {language} n={s.cases:2d} {label:16s} "
                        f"hit@1 {s.hit_at_1:.3f}  hit@3 {s.hit_at_3:.3f}  MRR {s.mrr:.3f}"
                    )
    print(f"query/answer cosine of a good FAQ hit (calibrated score), e.g. {_example_scores(base)}")


def _example_scores(base: KnowledgeBase) -> str:
    right = base.search("when will my parcel arrive?", kb="shop", language="en", k=1)[0]
    off = base.search("what is the capital of Peru?", kb="shop", language="en", k=1)[0]
    return f"in-scope {right.score:.2f} vs off-topic {off.score:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=8000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    bench_quality()
    bench_ingest_and_search(args.chunks, args.queries)


if __name__ == "__main__":
    main()
