"""Index variants on one's own cards and on Chinese: a Reranking card made from SciFact (each
query's relevant documents and 12 others as its candidates; all-MiniLM-L6-v2) and a Chinese
Retrieval card made from LCQMC's paraphrase pairs (a tiny random BGE-shaped model named
bge-small-zh-v1.5, so the recipe's Chinese query instruction applies). Exact is the run bit for
bit; the int8 and binary variants rank exactly as their stored vectors, recomputed here from the
model's own embeddings, say; rescoring and approximate search say why they do not run on a
candidate list."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bge_eval.api import build_report
from bge_eval.cli import main
from bge_eval.encoding.text_embedder import TextEmbedder
from bge_eval.index.build import int8_codes
from bge_eval.models import resolve_model
from bge_eval.models.spec import ZH_QUERY_INSTRUCTION
from tests.helpers import MINILM, write_jsonl

VARIANTS = ["int8", "binary", "hnsw:8"]


def ranked(scores: dict[str, float]) -> list[str]:
    return sorted(scores, key=lambda d: (-scores[d], d))


def predictions(root, revision, task):
    (path,) = (root / "predictions").glob(f"*/{revision}/{task}_predictions.json")
    return json.loads(path.read_text())["default"]["test"]


@pytest.fixture(scope="module")
def reranking_card(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cards") / "SciFactCandidates"
    folder.mkdir()
    source = shared_data / "SciFact"
    docs = {d["_id"]: f"{d.get('title', '')} {d['text']}".strip() for d in
            map(json.loads, (source / "corpus.jsonl").read_text().splitlines())}
    queries = {q["_id"]: q["text"] for q in map(json.loads, (source / "queries.jsonl").read_text().splitlines())}
    judged: dict[str, list[str]] = {}
    for line in (source / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query, doc, _ = line.split("\t")
        judged.setdefault(query, []).append(doc)
    others = [d for d in docs if not any(d in v for v in judged.values())]
    rows = [{"query": queries[q], "positive": [docs[d] for d in relevant],
             "negative": [docs[d] for d in others[12 * i:12 * i + 12]]}
            for i, (q, relevant) in enumerate(list(judged.items())[:30])]
    write_jsonl(folder / "test.jsonl", rows)
    (folder / "task.toml").write_text('name = "SciFactCandidates"\ntype = "Reranking"\nlanguage = "eng"\n')
    return folder, rows


@pytest.fixture(scope="module")
def chinese_card(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cards") / "LCQMCRetrieval"
    (folder / "qrels").mkdir(parents=True)
    pairs = [json.loads(line) for line in (shared_data / "LCQMC" / "test.jsonl").read_text().splitlines()[:400]]
    corpus = list(dict.fromkeys(p["sentence2"] for p in pairs))
    ids = {text: f"d{i}" for i, text in enumerate(corpus)}
    positives = [p for p in pairs if p["score"] == 1][:40]
    write_jsonl(folder / "corpus.jsonl", [{"_id": ids[t], "title": "", "text": t} for t in corpus])
    write_jsonl(folder / "queries.jsonl", [{"_id": f"q{i}", "text": p["sentence1"]} for i, p in enumerate(positives)])
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"q{i}\t{ids[p['sentence2']]}\t1\n" for i, p in enumerate(positives)))
    (folder / "task.toml").write_text('name = "LCQMCRetrieval"\ntype = "Retrieval"\nlanguage = "cmn"\n')
    return folder, corpus, ids, [p["sentence1"] for p in positives]


def run_with_variants(tmp_path, model, card, *extra):
    out = tmp_path / "out"
    argv = ["run", "--model", model, *extra, "--tasks", str(card), "--output", str(out), "--embedding-cache",
            str(tmp_path / "cache"), "--device", "cpu", "--no-progress"]
    for variant in VARIANTS:
        argv += ["--index", variant]
    return out, argv


def test_a_reranking_card_through_stored_forms(reranking_card, minilm_path, tmp_path, capsys):
    card, rows = reranking_card
    out, argv = run_with_variants(tmp_path, MINILM, card)
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "SciFactCandidates, hnsw:8: not run: a reranking task scores each query's given candidates whole" in printed
    (first,) = [p for p in (out / "results").glob("*/*") if "+index-" not in p.name]
    assert not first.with_name(first.name + "+index-hnsw-8").exists()
    exact = first.with_name(first.name + "+index-exact")
    run_scores, exact_scores = (json.loads((f / "SciFactCandidates.json").read_text())["scores"]["test"][0]
                                for f in (first, exact))
    assert exact_scores["main_score"] == run_scores["main_score"]
    assert predictions(out, first.name, "SciFactCandidates") == predictions(out, exact.name, "SciFactCandidates")

    for variant, size in (("exact", 4 * 384), ("int8", None), ("binary", 384 / 8)):
        (path,) = (out / "predictions").glob(f"*/{first.name}+index-{variant}/SciFactCandidates_index.json")
        figures = json.loads(path.read_text())
        assert "latency_p50_ms" not in figures  # a candidate list is scored whole: nothing searched to time
        docs = figures["size_bytes"] / figures["bytes_per_vector"]
        assert figures["bytes_per_vector"] == pytest.approx(size if variant != "int8" else 384 + 8 * 384 / docs)
    (section,) = build_report(out).index_variants  # the report's section: sizes, no latency panel to fill
    assert {p.variant for p in section.points} == {"exact", "int8", "binary"}
    assert all(p.latency_p50_ms is None for p in section.points)
    assert not any(line.startswith("Fastest") for line in section.recommendations)
    embedder = TextEmbedder(minilm_path, resolve_model(MINILM).spec, device="cpu")
    texts = list(dict.fromkeys(t for row in rows for t in row["positive"] + row["negative"]))
    docs = embedder.embed(texts, normalize=False)
    queries = embedder.embed([row["query"] for row in rows], normalize=False)
    codes, low, step = int8_codes(docs)
    stored = {"int8": (codes.astype(np.float32) + 128) * step + low, "binary": np.where(docs > 0, 1.0, -1.0)}
    unit_queries = {"int8": queries / np.linalg.norm(queries, axis=1, keepdims=True),
                    "binary": np.where(queries > 0, 1.0, -1.0)}
    for variant in ("int8", "binary"):  # the card's ids: queries q0, q1, ... and texts d0, d1, ... as first met
        found = predictions(out, f"{first.name}+index-{variant}", "SciFactCandidates")
        assert sorted(found) == sorted(f"q{i}" for i in range(len(rows)))
        for i, row in enumerate(rows):
            candidates = {f"d{texts.index(t)}" for t in row["positive"] + row["negative"]}
            assert set(found[f"q{i}"]) == candidates
            for doc, score in found[f"q{i}"].items():
                assert score == pytest.approx(float(unit_queries[variant][i] @ stored[variant][int(doc[1:])]),
                                              abs=1e-4)


def same_top(found: dict[str, float], expected: np.ndarray, doc_ids: list[str], k: int = 10) -> None:
    """The variant's top k holds scores equal to the recomputed ones (to float noise) and leaves out no
    document that scores clearly above its k-th (near-ties of a random model may swap)."""
    top = ranked(found)[:k]
    row = {d: r for r, d in enumerate(doc_ids)}
    for doc in top:
        assert found[doc] == pytest.approx(float(expected[row[doc]]), abs=1e-4)
    kth = min(found[d] for d in top)
    assert not [d for r, d in enumerate(doc_ids) if d not in top and expected[r] > kth + 1e-4]


def test_a_chinese_retrieval_card_with_the_recipes_instruction(chinese_card, tiny_bge, tmp_path):
    card, corpus, ids, queries = chinese_card
    out, argv = run_with_variants(tmp_path, "BAAI/bge-small-zh-v1.5", card, "--model-path", str(tiny_bge))
    assert main(argv) == 0
    (first,) = [p for p in (out / "results").glob("*/*") if "+index-" not in p.name]
    manifest = json.loads((first.with_name(first.name + "+index-int8") / "bge_eval_manifest.json").read_text())
    assert manifest["instruction"]["instruction"] == ZH_QUERY_INSTRUCTION
    assert predictions(out, first.name, "LCQMCRetrieval") == predictions(out, first.name + "+index-exact",
                                                                         "LCQMCRetrieval")
    embedder = TextEmbedder(tiny_bge, resolve_model("BAAI/bge-small-zh-v1.5", tiny_bge).spec, device="cpu")
    docs = embedder.embed(corpus, normalize=False)
    query_vectors = embedder.embed([ZH_QUERY_INSTRUCTION + q for q in queries], normalize=False)
    codes, low, step = int8_codes(docs)
    scores = (query_vectors / np.linalg.norm(query_vectors, axis=1, keepdims=True)) @ (
        (codes.astype(np.float32) + 128) * step + low).T
    found = predictions(out, first.name + "+index-int8", "LCQMCRetrieval")
    for i in range(len(queries)):
        same_top(found[f"q{i}"], scores[i], [ids[t] for t in corpus])
