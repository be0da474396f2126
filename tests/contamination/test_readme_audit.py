"""README's "Is my score honest?" block, line by line, in a folder where ../shared/data is the real
data and my-train.jsonl a training file holding ten STSBenchmark sentences among unrelated lines."""

from __future__ import annotations

import json

from tests.helpers import read_jsonl, run_readme_block


def test_readme_is_my_score_honest_runs_as_written(shared_data, minilm_path, tmp_path, capsys):
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "shared").symlink_to(shared_data.parent)
    sentences = [row["sentence2"] for row in read_jsonl(shared_data / "STSBenchmark" / "test.jsonl")[:10]]
    lines = [{"query": s, "pos": ["a passage about something else entirely"]} for s in sentences]
    lines += [{"query": f"question {i} about gardening", "pos": [f"tomatoes {i} need sun"]} for i in range(50)]
    (work / "my-train.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    run_readme_block("Is my score honest?", work)
    printed = capsys.readouterr().out
    assert "STSBenchmark (test): " in printed and "pairs seen in training" in printed
    report = (work / "runs" / "base" / "report" / "README.md").read_text()
    section = report.split("## Is the score honest? Contamination audit", 1)[1]
    assert "| STSBenchmark | test | sentence-transformers/all-MiniLM-L6-v2 | cosine_spearman |" in section
