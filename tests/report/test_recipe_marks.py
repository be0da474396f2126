"""The report says where a run left BGE's recipe: a precision other than the recipe's fp32, and
the recipe's own notes (bge-small-zh-v1.5's instruction decision)."""

import json

from bge_eval.cli import main
from bge_eval.config import RunConfig
from bge_eval.models.recipe import SMALL_ZH_NOTE
from bge_eval.report.data import build_report
from bge_eval.run.runner import run


def test_precision_and_recipe_notes_are_marked(tmp_path, tiny_bge):
    summary = run(RunConfig(model="BAAI/bge-small-zh-v1.5", model_path=tiny_bge, tasks=("BgeEvalDemoSTSZh",),
                            output=tmp_path / "zh", device="cpu", embedding_cache=None))
    run(RunConfig(model="BAAI/bge-small-en-v1.5", model_path=tiny_bge, tasks=("BgeEvalDemoSTS",),
                  output=tmp_path / "en", device="cpu", embedding_cache=None))
    manifest_file = summary.results_dir / "bge_eval_manifest.json"
    manifest = json.loads(manifest_file.read_text())
    assert manifest["precision"] == "fp32" and manifest["instruction"]["notes"] == [SMALL_ZH_NOTE]
    data = build_report([tmp_path / "zh", tmp_path / "en"])
    assert all(r.facts["precision_note"] is None for r in data.runs)  # fp32: as the recipe
    manifest["precision"] = "fp16"  # as a run on a GPU with the default precision records it
    manifest_file.write_text(json.dumps(manifest))
    out = tmp_path / "report"
    assert main(["report", str(tmp_path / "zh"), str(tmp_path / "en"), "--output", str(out)]) == 0
    markdown, html = (out / "README.md").read_text(), (out / "index.html").read_text().replace("&#39;", "'")
    for text in (markdown, html):
        assert "fp16" in text and "not the recipe's fp32" in text
        assert text.count("not the recipe's fp32") == 1  # only the fp16 run
    assert f"Recipe note, BAAI/bge-small-zh-v1.5 (local weights): {SMALL_ZH_NOTE}" in markdown
    assert "Recipe note, BAAI/bge-small-en-v1.5" not in markdown
    facts = html.split("<h2>Run facts</h2>")[1].split("<table class=\"facts\">")[1:]  # one per run
    (zh,) = [t for t in facts if "bge-small-zh-v1.5" in t.split("</tr>")[0]]
    assert f"<td>Recipe note</td><td>{SMALL_ZH_NOTE}.</td>" in zh
    assert html.count("<td>Recipe note</td>") == 1
