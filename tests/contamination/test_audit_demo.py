"""The audit on the bundled demo tasks with a training file planted here: each kind of copy is
found where it was put (a query with its relevant document as one (query, pos) line, a query
alone, a relevant document alone, a sentence with its case and punctuation changed, a near copy
with a word changed), unrelated lines find nothing, --fail-above exits 1 naming the tasks, and bad
input exits 2 in one line with nothing written."""

from __future__ import annotations

import json

import pytest

from bge_eval.api import audit
from bge_eval.cli import main
from bge_eval.contamination.evaluated import task_items
from bge_eval.errors import BgeEvalError
from bge_eval.tasks.selection import plan_tasks

TASKS = ["BgeEvalDemoRetrieval", "BgeEvalDemoSTS"]


@pytest.fixture(scope="module")
def demo():
    plan = plan_tasks(TASKS, None, None)
    return {items.task: items for planned in plan.tasks for items in task_items(planned, None)}


def texts(items, role):
    return {key: text for r, key, text in items.texts if r == role}


@pytest.fixture
def planted(demo, tmp_path):
    retrieval, sts = demo["BgeEvalDemoRetrieval"], demo["BgeEvalDemoSTS"]
    queries, documents = texts(retrieval, "query"), texts(retrieval, "document")
    q = sorted(queries)
    together, alone, doc_only = q[0], q[1], q[2]
    sentence = texts(sts, "sentence1")["3"]
    longest = max(documents.values(), key=lambda t: len(t.split()))
    words = longest.split()
    words[len(words) // 2] = "zebra"  # one word in ten or more changed
    lines = [{"query": queries[together], "pos": [documents[retrieval.relevant[together][0]]], "neg": []},
             {"query": queries[alone], "pos": ["an unrelated passage about sailing boats and harbours"]},
             {"query": "what colour is the sky over the northern sea",
              "pos": [documents[retrieval.relevant[doc_only][0]]]},
             {"text": sentence.upper().replace(" ", "  ") + " !!"},
             {"text": " ".join(words)}]
    lines += [{"query": f"unrelated question {i} about gardening", "pos": [f"tomatoes need sun {i}"]}
              for i in range(200)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path, together, alone, doc_only, sentence, longest


def test_every_planted_copy_is_found_and_nothing_else(demo, planted, tmp_path):
    path, together, alone, doc_only, sentence, longest = planted
    retrieval, sts = demo["BgeEvalDemoRetrieval"], demo["BgeEvalDemoSTS"]
    result = audit([path], TASKS, output=tmp_path / "out")
    found = {t.task: t for t in result.tasks}
    ranking = found["BgeEvalDemoRetrieval"]
    assert ranking.counts["queries_seen"] == ranking.counts["queries_seen_exact"] == 2
    assert ranking.counts["pairs_together"] == 1
    relevant_seen = {retrieval.relevant[together][0], retrieval.relevant[doc_only][0]}
    near = [d for d, t in texts(retrieval, "document").items() if t == longest]
    expected_docs = relevant_seen | set(near)
    assert ranking.counts["relevant_documents_seen"] == len(expected_docs)
    expected = {q for q in retrieval.items if q in (together, alone)
                or set(retrieval.relevant[q]) & expected_docs}
    assert set(ranking.contaminated) == expected
    worst = [e for e in ranking.examples if e["finding"].startswith("query and relevant document together")]
    assert [(e["item"], e["training"].endswith("train.jsonl:1")) for e in worst] == [(together, True)]
    assert any(e["kind"] == "near" and e["training"].endswith(":5") for e in ranking.examples)
    pairs = found["BgeEvalDemoSTS"]
    expected_pairs = {i for i in sts.items if sentence in (texts(sts, "sentence1")[i], texts(sts, "sentence2")[i])}
    assert set(pairs.contaminated) == expected_pairs and "3" in expected_pairs
    written = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert written["threshold"] == 0.6 and written["training"][0]["lines"] == 205
    assert {t["task"]: t["share"] for t in written["tasks"]} == {t.task: t.share for t in result.tasks}


def test_fail_above_names_the_tasks(planted, tmp_path, capsys):
    path = planted[0]
    argv = ["audit", "--train", str(path), "--tasks", *TASKS, "--output", str(tmp_path / "out")]
    assert main([*argv, "--fail-above", "0.9"]) == 0
    capsys.readouterr()
    assert main([*argv, "--fail-above", "0.01"]) == 1
    said = capsys.readouterr().err
    assert said.startswith("audit: above 1.00% of items seen in training: BgeEvalDemoRetrieval (test)")
    assert "BgeEvalDemoSTS (test)" in said


@pytest.mark.parametrize("content, said", [
    ("not json\n", "train.jsonl:1: not a JSON object"),
    ('{"query": "q", "pos": "p"}\n', 'train.jsonl:1: "pos" must be a list of texts'),
    ("", "train.jsonl: the file is empty"),
])
def test_bad_training_input_is_one_line_and_writes_nothing(tmp_path, capsys, content, said):
    path = tmp_path / "train.jsonl"
    path.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["audit", "--train", str(path), "--tasks", *TASKS, "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_a_missing_file_or_no_tasks_is_refused(tmp_path, capsys):
    assert main(["audit", "--train", str(tmp_path / "nope.jsonl"), "--tasks", *TASKS]) == 2
    assert "nope.jsonl: no such file" in capsys.readouterr().err
    (tmp_path / "t.txt").write_text("x\n")
    assert main(["audit", "--train", str(tmp_path / "t.txt")]) == 2
    assert "say which tasks to audit" in capsys.readouterr().err


def test_a_folder_for_train_or_a_file_for_output_and_a_zero_threshold_are_refused(planted, tmp_path, capsys):
    train = str(planted[0])
    assert main(["audit", "--train", str(tmp_path), "--tasks", *TASKS]) == 2
    assert f"--train {tmp_path}: a folder; give its training files" in capsys.readouterr().err
    for output in (train, f"{train}/sub"):  # the output, or a folder above it, is a file: refused before any work
        with pytest.raises(SystemExit) as stopped:
            main(["audit", "--train", train, "--tasks", *TASKS, "--output", output])
        assert stopped.value.code == 2 and "is a file; choose a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["audit", "--train", train, "--tasks", *TASKS, "--threshold", "0"])
    assert "--threshold: expected a share above 0" in capsys.readouterr().err
    with pytest.raises(BgeEvalError, match="is a file"):
        audit([train], TASKS, output=train)
    with pytest.raises(BgeEvalError, match="threshold 0"):
        audit([train], TASKS, threshold=0)


def test_missing_datasketch_is_one_line_naming_the_extra(planted, tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "datasketch", None)
    assert main(["audit", "--train", str(planted[0]), "--tasks", *TASKS, "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert 'pip install "bge_eval[audit]"' in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
