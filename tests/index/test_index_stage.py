"""Index variants of a real run (SciFact cut to 60 queries, all-MiniLM-L6-v2): the exact variant is
the run's own result bit for bit, every variant is an ordinary result of revision REV+index-VARIANT
made from the run's cached embeddings (nothing encoded again) and reused on rerun, and the gate and
compare read it."""

from __future__ import annotations

import json

from bge_eval.cli import main
from tests.helpers import MINILM
from tests.index.conftest import VARIANTS


def scores_of(folder):
    return json.loads((folder / "SciFact.json").read_text())["scores"]


def test_exact_is_the_run_bit_for_bit_and_variants_are_results_of_their_own(indexed):
    root, first, _ = indexed
    exact = first.with_name(first.name + "+index-exact")
    assert scores_of(exact)["test"][0]["ndcg_at_10"] == scores_of(first)["test"][0]["ndcg_at_10"]
    predictions = [json.loads(next((root / "predictions").glob(f"*/{folder.name}/SciFact_predictions.json"))
                              .read_text())["default"] for folder in (first, exact)]
    assert predictions[0] == predictions[1]
    for variant in VARIANTS:
        folder = first.with_name(first.name + "+index-" + variant.replace(":", "-"))
        meta = json.loads((folder / "model_meta.json").read_text())
        assert meta["revision"] == folder.name
        manifest = json.loads((folder / "bge_eval_manifest.json").read_text())
        record = manifest["tasks"]["SciFact"]
        assert record["identity"]["settings"]["index"] == variant
        assert record["texts"]["encoded"] == 0  # the run's cached embeddings, nothing encoded again
        figures = json.loads(next((root / "predictions").glob(f"*/{folder.name}/SciFact_index.json")).read_text())
        assert 0 < figures["recall_at_10_vs_exact"] <= 1 and figures["bytes_per_vector"] > 0
    binary = json.loads(next((root / "predictions").glob("*/*+index-ivf-flat-16-16/SciFact_index.json")).read_text())
    assert binary["recall_at_10_vs_exact"] == 1.0  # every list probed: exhaustive


def test_a_rerun_reuses_every_variant(indexed, capsys):
    _, _, argv = indexed
    capsys.readouterr()
    assert main(argv) == 0
    table = capsys.readouterr().out.split("index variants")[1]
    assert "computed" not in table and table.count("cached") == len(VARIANTS) + 1


def test_the_gate_and_compare_read_a_variant(indexed, tmp_path, capsys):
    root, first, _ = indexed
    int8 = first.name + "+index-int8"
    baseline = tmp_path / "b.json"
    assert main(["gate", "--results", str(root), "--baseline", str(baseline), "--write-baseline",
                 "--revision", first.name]) == 0
    assert main(["gate", "--results", str(root), "--baseline", str(baseline), "--revision", int8]) in (0, 1)
    assert "SciFact (test, ndcg_at_10)" in capsys.readouterr().out
    assert main(["compare", str(root), "--base-model", f"{MINILM}@{first.name}",
                 "--new-model", f"{MINILM}@{first.name}+index-binary-rescore-100"]) == 0
    assert "SciFact" in capsys.readouterr().out


def test_a_reranker_reranks_each_variants_own_candidates(indexed, tiny_cross_encoder, capsys):
    """--reranker with --index: the run's candidates as before, and each variant's under
    rerank/<org__model>+index-<variant>/: its top k reordered, the variant's own order below them."""
    root, first, argv = indexed
    k = 10
    assert main([*argv, "--reranker", "someone/tiny-reranker", "--reranker-path", str(tiny_cross_encoder),
                 "--rerank-top-k", str(k)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("reranker: someone/tiny-reranker") == len(VARIANTS) + 1  # the run, then each variant
    model_folder = first.parent.name
    assert (root / "rerank" / model_folder / "results").is_dir()
    for variant in VARIANTS:
        name = variant.replace(":", "-")
        variant_ranked = json.loads(next((root / "predictions").glob(f"*/{first.name}+index-{name}/"
                                                                      "SciFact_predictions.json")).read_text())
        (second_file,) = (root / "rerank" / f"{model_folder}+index-{name}").rglob("SciFact_predictions.json")
        second = json.loads(second_file.read_text())["default"]["test"]
        for query, scores in variant_ranked["default"]["test"].items():
            mine = sorted(scores, key=lambda d: (-scores[d], d))
            theirs = sorted(second[query], key=lambda d: (-second[query][d], d))
            assert set(theirs[:k]) == set(mine[:k]) and theirs[k:] == mine[k:]
    exact_top = json.loads(next((root / "predictions").glob(f"*/{first.name}/SciFact_predictions.json")).read_text())
    dims_top = json.loads(next((root / "predictions").glob(f"*/{first.name}+index-dims-128/"
                                                            "SciFact_predictions.json")).read_text())
    assert any(set(sorted(s, key=s.get)[-k:]) != set(sorted(dims_top["default"]["test"][q],
                                                          key=dims_top["default"]["test"][q].get)[-k:])
               for q, s in exact_top["default"]["test"].items())  # the variants' candidates are their own


def test_a_sweep_of_two_models_gets_each_models_variants(scifact_subset, tiny_bge, minilm_path, tmp_path, capsys):
    """--index (and --report) with several models: each model's run gets its variants, the report its section."""
    out = tmp_path / "out"
    assert main(["run", "--model", "local/tiny-bge", "--model-path", str(tiny_bge), "--model", MINILM,
                 "--model-path", str(minilm_path), "--tasks", "SciFact", "--data-dir", str(scifact_subset),
                 "--output", str(out), "--embedding-cache", str(tmp_path / "cache"), "--device", "cpu",
                 "--no-progress", "--index", "binary", "--report", str(tmp_path / "report")]) == 0
    assert capsys.readouterr().out.count("index variants (results as REV+index-VARIANT") == 2
    for model in ("local__tiny-bge", MINILM.replace("/", "__")):
        assert {p.name.split("+")[-1] for p in (out / "results" / model).iterdir()} >= {"index-exact", "index-binary"}
    assert (tmp_path / "report" / "README.md").read_text().count("\n### SciFact (test), ") == 2
