"""The audit on real data (SciFact cut to 60 queries and STSBenchmark, ../shared/data) with training
files built here from them, and the clean-item scores of a real run (all-MiniLM-L6-v2, and its int8
index variant as a second side): counts, the (query, pos) worst case, and clean scores equal to the
per-item files' means (nDCG@10 over the clean queries; Spearman over the clean pairs) in the
report, in compare and in the gate."""

from __future__ import annotations

import gzip
import json
from statistics import mean

import pytest
from scipy.stats import spearmanr

from bge_eval.api import build_report, compare
from bge_eval.cli import main
from bge_eval.contamination.text import normalise
from tests.helpers import MINILM, read_jsonl


@pytest.fixture(scope="module")
def audited(scifact_subset, tmp_path_factory):
    work = tmp_path_factory.mktemp("audited")
    out = work / "results"
    assert main(["run", "--model", MINILM, "--tasks", "SciFact", "STSBenchmark", "--data-dir", str(scifact_subset),
                 "--output", str(out), "--device", "cpu", "--no-progress", "--embedding-cache", str(work / "cache"),
                 "--index", "int8"]) == 0
    folder = scifact_subset / "SciFact"
    queries = {row["_id"]: row["text"] for row in read_jsonl(folder / "queries.jsonl")}
    docs = {row["_id"]: f"{row.get('title', '')} {row['text']}".strip() for row in read_jsonl(folder / "corpus.jsonl")}
    qrels: dict[str, list[str]] = {}
    for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query, doc, _ = line.split("\t")
        qrels.setdefault(query, []).append(doc)
    q1, q2, q3 = list(qrels)[:3]
    flag = work / "train.jsonl"
    flag.write_text("".join(json.dumps(row) + "\n" for row in [
        {"query": queries[q1], "pos": [docs[qrels[q1][0]]], "neg": []},
        {"query": queries[q2].lower().rstrip(".") + " ?", "pos": ["a passage about nothing in the test set"]},
    ] + [{"query": f"unrelated question {i}", "pos": [f"unrelated answer {i}"]} for i in range(100)]))
    texts = work / "documents.jsonl.gz"
    with gzip.open(texts, "wt", encoding="utf-8") as stream:
        stream.write(json.dumps({"text": docs[qrels[q3][0]]}) + "\n")
    sts = read_jsonl(scifact_subset / "STSBenchmark" / "test.jsonl")
    sentences = work / "sentences.txt"
    sentences.write_text("".join(row["sentence1"] + "\n" for row in sts[:30]))
    assert main(["audit", "--train", str(flag), str(texts), str(sentences), "--tasks", "SciFact", "STSBenchmark",
                 "--data-dir", str(scifact_subset), "--output", str(out)]) == 0
    seen_docs = {qrels[q1][0], qrels[q3][0]}
    contaminated = {q for q, d in qrels.items() if q in (q1, q2) or set(d) & seen_docs}
    planted = {normalise(row["sentence1"]) for row in sts[:30]}  # equal after normalisation: exact copies
    dirty_pairs = {str(i) for i, row in enumerate(sts)
                   if normalise(row["sentence1"]) in planted or normalise(row["sentence2"]) in planted}
    return out, contaminated, dirty_pairs, q1


def test_the_counts_and_the_worst_case(audited):
    out, contaminated, dirty_pairs, q1 = audited
    written = {t["task"]: t for t in json.loads((out / "audit.json").read_text())["tasks"]}
    scifact = written["SciFact"]
    assert scifact["counts"]["queries_seen"] == scifact["counts"]["queries_seen_exact"] == 2
    assert scifact["counts"]["relevant_documents_seen"] == 2 and scifact["counts"]["pairs_together"] == 1
    assert set(scifact["contaminated"]) == contaminated
    assert [e["item"] for e in scifact["examples"] if e["finding"].startswith("query and relevant")] == [q1]
    sts = written["STSBenchmark"]
    assert set(sts["contaminated"]) >= dirty_pairs  # every planted sentence's pairs (near copies may add more)
    assert sts["counts"]["pairs_seen_exact"] == len(dirty_pairs)


def per_query(out, revision, task="SciFact"):
    (path,) = out.glob(f"predictions/*/{revision}/{task}_per_query.json")
    return {q: v["ndcg_at_10"] for q, v in json.loads(path.read_text())["default"]["test"].items()}


def test_the_report_scores_the_clean_items(audited, tmp_path):
    out, contaminated, _, _ = audited
    section = build_report(out).audit
    assert section is not None and section.source.endswith("audit.json")
    rows = {(r.run, r.task): r for r in section.rows}
    scifact = rows[(MINILM, "SciFact")]
    (run,) = [p.name for p in out.glob("results/*/*") if "+index-" not in p.name]
    values = per_query(out, run)
    clean = [v for q, v in values.items() if q not in contaminated]
    assert scifact.clean == pytest.approx(mean(clean), abs=1e-12) and scifact.excluded == len(contaminated)
    assert scifact.full == pytest.approx(mean(values.values()), abs=1e-12)
    (similarities,) = [p for p in out.glob("predictions/*/*/STSBenchmark_similarities.json") if "+index" not in str(p)]
    entry = json.loads(similarities.read_text())["default"]["test"]
    audit = {t["task"]: t for t in json.loads((out / "audit.json").read_text())["tasks"]}
    left_out = set(audit["STSBenchmark"]["contaminated"])
    keep = [i for i in range(len(entry["scores"])) if str(i) not in left_out]
    expected = spearmanr([entry["scores"][i] for i in keep], [entry["gold"][i] for i in keep]).statistic
    assert rows[(MINILM, "STSBenchmark")].clean == pytest.approx(expected, abs=1e-9)
    assert main(["report", str(out), "--output", str(tmp_path / "r")]) == 0
    assert "## Is the score honest? Contamination audit" in (tmp_path / "r" / "README.md").read_text()


def test_compare_and_the_gate_on_the_clean_items(audited, tmp_path, capsys):
    out, contaminated, _, _ = audited
    (run,) = [p.name for p in out.glob("results/*/*") if "+index-" not in p.name]
    comparison = compare(out, base_model=f"{MINILM}@{run}", new_model=f"{MINILM}@{run}+index-int8",
                         tasks=["SciFact"], audit=out / "audit.json")
    (task,) = comparison.tasks
    base, new = per_query(out, run), per_query(out, run + "+index-int8")
    assert task.clean is not None and task.clean.left_out == len(contaminated)
    assert task.clean.base_score == pytest.approx(mean(v for q, v in base.items() if q not in contaminated), abs=1e-12)
    assert task.clean.new_score == pytest.approx(mean(v for q, v in new.items() if q not in contaminated), abs=1e-12)
    baseline = tmp_path / "baseline.json"
    assert main(["gate", "--results", str(out), "--baseline", str(baseline), "--write-baseline", "--revision", run,
                 "--tasks", "SciFact"]) == 0
    capsys.readouterr()
    assert main(["gate", "--results", str(out), "--baseline", str(baseline), "--revision", run + "+index-int8",
                 "--audit", str(out / "audit.json")]) in (0, 1)
    said = capsys.readouterr().out
    clean_base = mean(v for q, v in base.items() if q not in contaminated)
    clean_new = mean(v for q, v in new.items() if q not in contaminated)
    assert "SciFact (test, ndcg_at_10, clean items)" in said
    assert f"baseline {clean_base:.5f}, new {clean_new:.5f}" in said


def test_exact_copies_are_all_found_and_unrelated_texts_find_nothing(scifact_subset, shared_data):
    """Planted in a training stream: every evaluated text as it is and with its case, punctuation and
    spacing changed (all found as exact copies); SciFact documents relevant to no evaluated query and
    Banking77 training texts (no hit at all)."""
    from bge_eval.contamination.evaluated import task_items
    from bge_eval.contamination.matching import Matcher
    from bge_eval.contamination.training import TrainingLine
    from bge_eval.tasks.selection import plan_tasks

    plan = plan_tasks(["SciFact", "STSBenchmark"], None, scifact_subset)
    texts = sorted({t for planned in plan.tasks for items in task_items(planned, scifact_subset)
                    for _, _, t in items.texts})
    matcher = Matcher(texts)
    for number, text in enumerate(texts):
        changed = "".join(c for c in text.upper() if c.isalnum() or c.isspace()).replace(" ", "  ")
        for planted in (text, changed):
            hits = matcher.match(TrainingLine("t", number, text=planted))
            assert any(h.kind == "exact" and matcher.texts[h.evaluated] == text for h in hits), text
    evaluated = {normalise(t).replace(" ", "") for t in texts}  # the loader may have trimmed a document's spaces
    corpus = read_jsonl(shared_data / "SciFact" / "corpus.jsonl")
    unrelated = [t for t in (f"{d.get('title', '')} {d['text']}".strip() for d in corpus)
                 if normalise(t).replace(" ", "") not in evaluated][:2000]
    unrelated += [row["text"] for row in read_jsonl(shared_data / "Banking77Classification" / "train.jsonl")[:2000]]
    found = [text for number, text in enumerate(unrelated) if matcher.match(TrainingLine("u", number, text=text))]
    assert found == []


def test_an_audit_of_other_data_is_not_used_on_these_results(audited, tmp_path, capsys):
    """The audit records the data fingerprint each task was read from; on results scored from other
    data (an edited copy, another version) its item ids mean other items: said, never used."""
    out, _, _, _ = audited
    (run,) = [p for p in out.glob("results/*/*") if "+index-" not in p.name]
    manifest = json.loads((run / "bge_eval_manifest.json").read_text())
    written = json.loads((out / "audit.json").read_text())
    for task in written["tasks"]:
        assert task["data"] == manifest["tasks"][task["task"]]["identity"]["data"]
        task["data"] = "files:" + "0" * 64
    other = tmp_path / "other-audit.json"
    other.write_text(json.dumps(written))
    rows = {r.task: r for r in build_report(out, audit=other).audit.rows if r.run == MINILM}
    assert rows["SciFact"].clean is None and "the audit read other data" in rows["SciFact"].note
    (task,) = compare(out, base_model=f"{MINILM}@{run.name}", new_model=f"{MINILM}@{run.name}+index-int8",
                      tasks=["SciFact"], audit=other).tasks
    assert task.clean is not None and "the audit read other data" in task.clean.no_test
    baseline = tmp_path / "baseline.json"
    assert main(["gate", "--results", str(out), "--baseline", str(baseline), "--write-baseline", "--revision",
                 run.name, "--tasks", "SciFact"]) == 0
    capsys.readouterr()
    assert main(["gate", "--results", str(out), "--baseline", str(baseline), "--revision", run.name,
                 "--audit", str(other)]) == 2
    assert "the audit read other data" in capsys.readouterr().out
