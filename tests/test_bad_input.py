"""Every bad input is one clear line: exit status 2, the message names the file and line (or the
option, or the checkpoint file) and what to do, no traceback, and nothing left in --output.

One row per case: (family, case id, how to make the input, what the message must say). Each
maker writes its files under tmp_path and returns the command's arguments."""

from __future__ import annotations

import errno
import json
import shutil

import pytest

from bge_eval.cli import main
from tests.conftest import build_bge_from_nothing
from tests.helpers import beir, write_jsonl

MODEL = "BAAI/bge-small-en-v1.5"
GOOD_STS = {"sentence1": "a cat", "sentence2": "a dog", "score": 2.5}


class Case:
    """What a case gives the test: the arguments, and the folder that must stay empty."""

    def __init__(self, tmp_path, built_bge):
        self.tmp, self.built_bge = tmp_path, built_bge
        self.data = tmp_path / "data"
        self.out = tmp_path / "out"

    def run(self, task, *extra, model_path=None, data=True, device=True, cache=False):
        args = ["run", "--model", MODEL, "--model-path", str(model_path or self.built_bge), "--tasks", task,
                "--output", str(self.out)]
        args += (["--device", "cpu"] if device else []) + ([] if cache else ["--no-embedding-cache"])
        return args + (["--data-dir", str(self.data)] if data else []) + list(extra)

    def sts(self, text: str | bytes, name="test.jsonl"):
        path = self.data / "STS13" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return self.run("STS13")

    def retrieval(self, corpus=None, queries=None, qrels_text=None):
        folder = self.data / "SciFact"
        beir(folder, corpus or [{"_id": "d1", "text": "a"}, {"_id": "d2", "text": "b"}],
             queries or [{"_id": "q1", "text": "x"}], [("q1", "d1", 1)])
        if qrels_text is not None:
            (folder / "qrels" / "test.tsv").write_text(qrels_text, encoding="utf-8")
        return self.run("SciFact")

    def reranking(self, rows):
        write_jsonl(self.data / "T2Reranking" / "dev.jsonl", rows)
        return self.run("T2Reranking")

    def checkpoint(self, damage):
        folder = self.tmp / "ckpt"
        shutil.copytree(self.built_bge, folder)
        damage(folder)
        return self.run("STS13", model_path=folder, data=False)


def line(row) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


def deep_json() -> str:
    return '{"sentence1": ' + "[" * 100_000 + "]" * 100_000 + ', "sentence2": "b", "score": 1}\n'


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _truncate(path, keep):
    path.write_bytes(path.read_bytes()[:keep])


QRELS = "query-id\tcorpus-id\tscore\n"


def report_over_meta(case, text):
    _write(case.tmp / "res" / "results" / "m" / "r" / "model_meta.json", text)
    return ["report", str(case.tmp / "res"), "--output", str(case.out)]


def _small_vocab(case):
    folder = build_bge_from_nothing(case.tmp / "small-vocab", vocab_size=40)  # the tokenizer's ids go past 40
    return case.run("STS13", model_path=folder, data=False)


STS_ROWS = [{"sentence1": f"a sentence {i}", "sentence2": f"another one {i % 4}", "score": float(i % 5)}
            for i in range(8)]


def card_run(case, toml: str, rows=None, name="test.jsonl"):
    """A card folder (task.toml as given, STS rows beside it) run through --tasks."""
    folder = case.tmp / "cards" / "mine"
    write_jsonl(folder / name, STS_ROWS if rows is None else rows)
    (folder / "task.toml").write_text(toml, encoding="utf-8")
    return case.run(str(folder), data=False)


def sts_card(extra: str = "", card_type="STS") -> str:
    return f'name = "Mine"\ntype = "{card_type}"\nlanguage = "eng"\n{extra}'


def suite_run(case, text: str):
    """A suite file beside a card folder; card paths in it are relative to the suite file."""
    folder = case.tmp / "suites" / "card"
    write_jsonl(folder / "test.jsonl", STS_ROWS)
    (folder / "task.toml").write_text(sts_card(), encoding="utf-8")
    suite = case.tmp / "suites" / "my.suite.toml"
    suite.write_text(text, encoding="utf-8")
    return suite_args(case, suite)


def suite_args(case, suite):
    return ["run", "--model", MODEL, "--model-path", str(case.built_bge), "--suite", str(suite), "--output",
            str(case.out), "--device", "cpu", "--no-embedding-cache"]


def gate_with(case, baseline, *extra):
    """The gate over an empty results folder with this baseline (a dict is written as JSON)."""
    (case.tmp / "results").mkdir(exist_ok=True)
    path = case.tmp / "b.json"
    if isinstance(baseline, bytes):
        path.write_bytes(baseline)
    else:
        path.write_text(baseline if isinstance(baseline, str) else json.dumps(baseline), encoding="utf-8")
    return ["gate", "--results", str(case.tmp / "results"), "--baseline", str(path), *extra]


ENTRY = {"model": "m", "task": "SciFact", "split": "test", "metric": "ndcg_at_10", "value": 0.6, "tolerance": 0.01,
         "dataset_revision": None}


def models_file(case, text: str):
    path = case.tmp / "models.toml"
    path.write_text(text, encoding="utf-8")
    return ["run", "--models", str(path), "--tasks", "BgeEvalDemoSTS", "--output", str(case.out), "--device", "cpu",
            "--no-embedding-cache"]


def same_files_twice(case):
    """Two checkpoint paths holding the same files: one results folder, refused before any work."""
    copy = shutil.copytree(case.built_bge, case.tmp / "copy")
    return models_file(case, f'[[model]]\nname = "{MODEL}"\npath = "{case.built_bge}"\n'
                             f'[[model]]\nname = "{MODEL}"\npath = "{copy}"\n')


CASES = [
    # --- data: JSON Lines -------------------------------------------------------------------
    ("data", "invalid-json", lambda c: c.sts("{broken\n"), "STS13/test.jsonl:1: invalid JSON"),
    ("data", "empty-file", lambda c: c.sts(""), "STS13/test.jsonl: the file has no rows"),
    ("data", "blank-lines-only", lambda c: c.sts("\n\n  \n"), "the file has no rows"),
    ("data", "missing-file", lambda c: c.sts(line(GOOD_STS), name="other.jsonl"), "STS13/test.jsonl: file not found"),
    ("data", "missing-field", lambda c: c.sts(line({"sentence1": "a", "sentence2": "b"})),
     "test.jsonl:1: missing field(s) score"),
    ("data", "score-outside-range", lambda c: c.sts(line({**GOOD_STS, "score": 9})), "outside this task's range"),
    ("data", "score-a-string", lambda c: c.sts(line({**GOOD_STS, "score": "high"})), "score must be a number"),
    ("data", "score-a-bool", lambda c: c.sts(line({**GOOD_STS, "score": True})), "score must be a number"),
    ("data", "score-nan", lambda c: c.sts('{"sentence1": "a", "sentence2": "b", "score": NaN}\n'),
     "test.jsonl:1: NaN is not a JSON number"),
    ("data", "score-infinity", lambda c: c.sts('{"sentence1": "a", "sentence2": "b", "score": Infinity}\n'),
     "Infinity is not a JSON number"),
    ("data", "null-sentence", lambda c: c.sts(line({**GOOD_STS, "sentence1": None})), "sentence1 must be a string"),
    ("data", "number-sentence", lambda c: c.sts(line({**GOOD_STS, "sentence2": 7})), "sentence2 must be a string"),
    ("data", "nested-too-deeply", lambda c: c.sts(deep_json()), "test.jsonl:1: JSON nested too deeply"),
    ("data", "lone-surrogate", lambda c: c.sts('{"sentence1": "a\\ud800", "sentence2": "b", "score": 1}\n'),
     "test.jsonl:1: a lone surrogate"),
    ("data", "not-utf8", lambda c: c.sts(line(GOOD_STS).encode() + b'{"sentence1": "\xff"}\n'),
     "test.jsonl:2: bytes that are not UTF-8"),
    ("data", "line-numbers-count-blank-lines", lambda c: c.sts(line(GOOD_STS) + "\n\n" + "{broken\n"),
     "test.jsonl:4: invalid JSON"),
    ("data", "checked-row-line-after-blank-lines", lambda c: c.sts("\n" + line(GOOD_STS) + "\n"
                                                                   + line({**GOOD_STS, "score": -3})),
     "test.jsonl:4: score -3 is outside"),
    ("data", "row-is-a-list", lambda c: c.sts("[1, 2]\n"), "test.jsonl:1: expected a JSON object"),
    ("data", "task-folder-missing", lambda c: c.run("STS13") if c.data.mkdir() is None else None,
     "Task STS13: no local data in --data-dir"),
    ("data", "pair-label-not-binary", lambda c: (write_jsonl(c.data / "Ocnli" / "validation.jsonl", [
        {"sentence1": "a", "sentence2": "b", "label": 2}]), c.run("Ocnli"))[1],
     "validation.jsonl:1: label must be 0 or 1"),
    ("data", "classification-one-label", lambda c: (
        write_jsonl(c.data / "Banking77Classification" / "test.jsonl", [{"text": "a", "label": 1}] * 3),
        write_jsonl(c.data / "Banking77Classification" / "train.jsonl", [{"text": "b", "label": 1}] * 3),
        c.run("Banking77Classification"))[2], "needs at least two labels"),
    ("data", "classification-label-bool", lambda c: (
        write_jsonl(c.data / "Banking77Classification" / "test.jsonl", [{"text": "a", "label": True}]),
        c.run("Banking77Classification"))[1], "test.jsonl:1: label must be an integer"),
    # --- data: BEIR retrieval ----------------------------------------------------------------
    ("data", "qrels-fractional", lambda c: c.retrieval(qrels_text=QRELS + "q1\td1\t0.5\n"),
     "qrels/test.tsv:2: score '0.5' is not a whole number"),
    ("data", "qrels-infinite", lambda c: c.retrieval(qrels_text=QRELS + "q1\td1\tinf\n"),
     "qrels/test.tsv:2: score 'inf' is not a whole number"),
    ("data", "qrels-nan", lambda c: c.retrieval(qrels_text=QRELS + "q1\td1\tnan\n"),
     "score 'nan' is not a whole number"),
    ("data", "qrels-conflicting-duplicates", lambda c: c.retrieval(
        qrels_text=QRELS + "q1\td1\t1\nq1\td1\t0\n"),
     "qrels/test.tsv:3: (q1, d1) is judged 0 here and 1 on line 2"),
    ("data", "qrels-unknown-query", lambda c: c.retrieval(qrels_text=QRELS + "q1\td1\t1\nq9\td1\t1\n"),
     "qrels/test.tsv:3: query-id 'q9' is not in queries.jsonl"),
    ("data", "qrels-unknown-document", lambda c: c.retrieval(qrels_text=QRELS + "q1\td7\t1\n"),
     "qrels/test.tsv:2: corpus-id 'd7' is not in corpus.jsonl"),
    ("data", "qrels-bad-header", lambda c: c.retrieval(qrels_text="qid\tdid\trel\nq1\td1\t1\n"),
     "qrels/test.tsv:1: expected the header"),
    ("data", "qrels-two-fields", lambda c: c.retrieval(qrels_text=QRELS + "q1\td1\n"),
     "qrels/test.tsv:2: expected 3 tab-separated fields, got 2"),
    ("data", "qrels-score-text", lambda c: c.retrieval(qrels_text=QRELS + "q1\td1\thigh\n"),
     "qrels/test.tsv:2: score 'high' is not a number"),
    ("data", "qrels-header-only", lambda c: c.retrieval(qrels_text=QRELS), "no judgements"),
    ("data", "qrels-quote-is-a-character", lambda c: c.retrieval(
        qrels_text=QRELS + '"q1\td1\t1\nq1\td1\t1\n'),
     "qrels/test.tsv:2: query-id '\"q1' is not in queries.jsonl"),
    ("data", "corpus-null-text", lambda c: c.retrieval(corpus=[{"_id": "d1", "text": None}]),
     "corpus.jsonl:1: text must be a string, got null"),
    ("data", "corpus-duplicate-id", lambda c: c.retrieval(corpus=[{"_id": "d1", "text": "a"},
                                                                  {"_id": "d1", "text": "b"}]),
     "corpus.jsonl:2: duplicate _id 'd1'"),
    ("data", "corpus-missing-text", lambda c: c.retrieval(corpus=[{"_id": "d1", "title": "t"}]),
     "corpus.jsonl:1: missing field(s) text"),
    ("data", "corpus-null-id", lambda c: c.retrieval(corpus=[{"_id": None, "text": "a"}]),
     "corpus.jsonl:1: _id must be a non-empty string"),
    ("data", "corpus-title-number", lambda c: c.retrieval(corpus=[{"_id": "d1", "text": "a", "title": 3}]),
     "corpus.jsonl:1: title must be a string"),
    ("data", "query-without-judgements", lambda c: c.retrieval(queries=[{"_id": "q1", "text": "x"},
                                                                      {"_id": "q2", "text": "y"}]),
     "queries.jsonl:2: query 'q2' has no judgements"),
    ("data", "qrels-missing", lambda c: (c.retrieval(), (c.data / "SciFact" / "qrels" / "test.tsv").unlink(),
                                         c.run("SciFact"))[2], "qrels/test.tsv: file not found"),
    # --- data: reranking ---------------------------------------------------------------------
    ("data", "reranking-no-positive", lambda c: c.reranking([{"query": "q", "positive": [], "negative": ["n"]}]),
     "dev.jsonl:1: no positive candidates"),
    ("data", "reranking-positive-not-list", lambda c: c.reranking([{"query": "q", "positive": "p", "negative": []}]),
     "dev.jsonl:1: positive and negative must be lists of texts"),
    ("data", "reranking-null-candidate", lambda c: c.reranking([{"query": "q", "positive": ["p"], "negative": [None]}]),
     "dev.jsonl:1: positive and negative must be lists of texts"),
    ("data", "reranking-query-number", lambda c: c.reranking([{"query": 5, "positive": ["p"], "negative": []}]),
     "dev.jsonl:1: query must be a string"),
    # --- model files -------------------------------------------------------------------------
    ("model", "no-config", lambda c: c.checkpoint(lambda f: (f / "config.json").unlink()), "no config.json there"),
    ("model", "config-not-json", lambda c: c.checkpoint(lambda f: _write(f / "config.json", "{oops")),
     "config.json: not valid JSON"),
    ("model", "config-not-an-object", lambda c: c.checkpoint(lambda f: _write(f / "config.json", "[]")),
     "config.json: expected a JSON object"),
    ("model", "config-without-model-type", lambda c: c.checkpoint(lambda f: _write(f / "config.json", "{}")),
     "config.json: no model_type or architectures"),
    ("model", "no-weights", lambda c: c.checkpoint(lambda f: (f / "model.safetensors").unlink()), "no weights"),
    ("model", "empty-weights", lambda c: c.checkpoint(lambda f: _truncate(f / "model.safetensors", 0)),
     "model.safetensors: empty weights file"),
    ("model", "truncated-weights", lambda c: c.checkpoint(lambda f: _truncate(f / "model.safetensors", 200)),
     "its weights could not be loaded"),
    ("model", "tokenizer-json-broken", lambda c: c.checkpoint(lambda f: _write(f / "tokenizer.json", "{")),
     "tokenizer.json: not valid JSON"),
    ("model", "modules-json-broken", lambda c: c.checkpoint(lambda f: _write(f / "modules.json", "nope")),
     "modules.json: not valid JSON"),
    ("model", "tokenizer-larger-than-vocabulary", _small_vocab, "the tokenizer and the weights do not belong together"),
    ("model", "unknown-model", lambda c: ["run", "--model", "nobody/no-such-model", "--tasks", "STS13",
                                          "--output", str(c.out)], "'nobody/no-such-model' was not found"),
    # --- options -----------------------------------------------------------------------------
    ("options", "device-unknown", lambda c: c.run("BgeEvalDemoSTS", "--device", "tpu", data=False, device=False),
     "--device tpu: expected cpu, cuda or cuda:N"),
    ("options", "device-cuda-absent", lambda c: c.run("BgeEvalDemoSTS", "--device", "cuda", data=False,
                                                       device=False),
     "--device cuda: CUDA is not available"),
    ("options", "devices-unknown", lambda c: c.run("BgeEvalDemoSTS", "--devices", "tpu:0", data=False, device=False),
     "--devices tpu:0: expected cpu, cuda or cuda:N"),
    ("options", "output-is-a-file", lambda c: (_write(c.tmp / "file", "x"), c.run("BgeEvalDemoSTS", "--output",
                                                                                  str(c.tmp / "file"), data=False))[1],
     "--output"),
    ("options", "output-below-a-file", lambda c: (_write(c.tmp / "file", "x"), c.run(
        "BgeEvalDemoSTS", "--output", str(c.tmp / "file" / "out"), data=False))[1], "is a file"),
    ("options", "embedding-cache-is-a-file", lambda c: (_write(c.tmp / "cachefile", "x"), c.run(
        "BgeEvalDemoSTS", "--embedding-cache", str(c.tmp / "cachefile"), data=False, cache=True))[1],
     "--embedding-cache"),
    ("options", "unknown-task", lambda c: c.run("SciFacts", data=False), "Did you mean 'SciFact'"),
    ("options", "unknown-benchmark", lambda c: ["run", "--model", MODEL, "--model-path", str(c.built_bge),
                                                "--benchmark", "MTEB(klingon)", "--output", str(c.out)],
     "--benchmark 'MTEB(klingon)': no such benchmark"),
    ("options", "tokenizer-processes-not-a-number", lambda c: c.run("BgeEvalDemoSTS", data=False),
     "BGE_EVAL_TOKENIZER_PROCESSES='many'"),
    # --- paths -------------------------------------------------------------------------------
    ("paths", "revision-climbs-out", lambda c: c.run("BgeEvalDemoSTS", "--revision", "../../x", data=False),
     "--revision '../../x': not usable as a folder name"),
    ("paths", "revision-with-slash", lambda c: c.run("BgeEvalDemoSTS", "--revision", "a/b", data=False),
     "--revision 'a/b'"),
    ("paths", "revision-dots", lambda c: c.run("BgeEvalDemoSTS", "--revision", "..", data=False), "--revision '..'"),
    # --- report inputs -----------------------------------------------------------------------
    ("report", "model-meta-not-json", lambda c: report_over_meta(c, "{"),
     "model_meta.json: not valid JSON"),
    ("report", "model-meta-a-list", lambda c: report_over_meta(c, "[]"),
     "model_meta.json: expected a JSON object"),
    ("report", "results-not-a-folder", lambda c: ["report", str(c.tmp / "nowhere"), "--output", str(c.out)],
     "not a folder of results"),
    ("report", "no-results", lambda c: (c.data.mkdir(), ["report", str(c.data), "--output", str(c.out)])[1],
     "no results under"),
    # --- gate inputs -------------------------------------------------------------------------
    ("gate", "baseline-missing", lambda c: ["gate", "--results", str(c.tmp), "--baseline", str(c.tmp / "b.json")],
     "b.json: file not found"),
    ("gate", "baseline-not-json", lambda c: (_write(c.tmp / "b.json", "{"), ["gate", "--results", str(c.tmp),
                                                                          "--baseline", str(c.tmp / "b.json")])[1],
     "not a bge_eval baseline file"),
    ("gate", "baseline-nan-tolerance", lambda c: (_write(c.tmp / "b.json", json.dumps({"entries": [
        {"model": "m", "task": "SciFact", "split": "test", "metric": "ndcg_at_10", "value": 0.6,
         "tolerance": float("nan"), "dataset_revision": None}]})),
        ["gate", "--results", str(c.tmp), "--baseline", str(c.tmp / "b.json")])[1], "tolerance nan"),
    ("gate", "baseline-value-string", lambda c: (_write(c.tmp / "b.json", json.dumps({"entries": [
        {"model": "m", "task": "SciFact", "split": "test", "metric": "ndcg_at_10", "value": "0.6",
         "tolerance": 0.01, "dataset_revision": None}]})),
        ["gate", "--results", str(c.tmp), "--baseline", str(c.tmp / "b.json")])[1], "value '0.6'"),
    ("gate", "baseline-entries-not-objects", lambda c: (_write(c.tmp / "b.json", '{"entries": [1]}'), [
        "gate", "--results", str(c.tmp), "--baseline", str(c.tmp / "b.json")])[1], "not a bge_eval baseline file"),
    ("gate", "baseline-no-entries", lambda c: gate_with(c, {"entries": []}), "no entries, so nothing would be gated"),
    ("gate", "baseline-entry-twice", lambda c: gate_with(c, {"entries": [ENTRY, ENTRY]}),
     "entry 2 gates what entry 1 gates"),
    ("gate", "baseline-revision-a-number", lambda c: gate_with(c, {"entries": [{**ENTRY, "revision": 3}]}),
     "entry 1: revision must be a string or null"),
    ("gate", "baseline-data-a-list", lambda c: gate_with(c, {"entries": [{**ENTRY, "data": ["x"]}]}),
     "entry 1: data must be a string or null"),
    ("gate", "baseline-negative-tolerance", lambda c: gate_with(c, {"entries": [{**ENTRY, "tolerance": -0.1}]}),
     "tolerance -0.1 is not a finite number >= 0"),
    ("gate", "baseline-infinite-value", lambda c: gate_with(c, '{"entries": [{"model": "m", "task": "SciFact", '
                                                               '"split": "test", "metric": "ndcg_at_10", "value": '
                                                               'Infinity, "tolerance": 0, "dataset_revision": null}]}'),
     "value inf is not a finite number"),
    ("gate", "baseline-a-list", lambda c: gate_with(c, "[]"), "not a bge_eval baseline file"),
    ("gate", "baseline-not-utf8", lambda c: gate_with(c, b'{"entries": "\xff"}'), "not a bge_eval baseline file"),
    ("gate", "baseline-unknown-key", lambda c: gate_with(c, {"entries": [{**ENTRY, "colour": "red"}]}),
     "not a bge_eval baseline file"),
    ("gate", "junit-a-folder", lambda c: gate_with(c, {"entries": [ENTRY]}, "--junit", str(c.tmp)), "--junit"),
    ("gate", "summary-a-folder", lambda c: gate_with(c, {"entries": [ENTRY]}, "--summary", str(c.tmp)), "--summary"),
    ("gate", "results-missing", lambda c: gate_with(c, {"entries": [ENTRY]})[:1] + [
        "--results", str(c.tmp / "nowhere"), "--baseline", str(c.tmp / "b.json")], "nowhere"),
    # --- task cards (a card folder given to --tasks) -------------------------------------------
    ("cards", "main-score-unknown", lambda c: card_run(c, sts_card('main_score = "best"\n')),
     "task.toml: main_score 'best' is not a metric mteb writes for STS"),
    ("cards", "main-score-of-another-type", lambda c: card_run(c, sts_card('main_score = "ndcg_at_10"\n')),
     "main_score 'ndcg_at_10' is not a metric mteb writes for STS"),
    ("cards", "split-a-path", lambda c: card_run(c, sts_card('splits = ["../../etc/test"]\n')),
     "splits.0: String should match pattern"),
    ("cards", "split-twice", lambda c: card_run(c, sts_card('splits = ["test", "test"]\n')),
     "a split is listed twice"),
    ("cards", "score-range-on-retrieval", lambda c: card_run(c, sts_card("score_range = [0, 5]\n", "Retrieval")),
     "score_range is for STS cards"),
    ("cards", "score-range-reversed", lambda c: card_run(c, sts_card("score_range = [5, 0]\n")),
     "score_range: expected two finite numbers, the lowest score first"),
    ("cards", "score-range-infinite", lambda c: card_run(c, sts_card("score_range = [0, inf]\n")),
     "score_range: expected two finite numbers"),
    ("cards", "score-range-nan", lambda c: card_run(c, sts_card("score_range = [nan, 5]\n")),
     "score_range: expected two finite numbers"),
    ("cards", "score-range-strings", lambda c: card_run(c, sts_card('score_range = ["0", "5"]\n')),
     "score_range.0: Input should be a valid number"),
    ("cards", "score-range-three-numbers", lambda c: card_run(c, sts_card("score_range = [0, 1, 5]\n")),
     "score_range: Tuple should have at most 2 items"),
    ("cards", "score-outside-the-card-range", lambda c: card_run(c, sts_card("score_range = [0, 2]\n")),
     "test.jsonl:4: score 3.0 is outside this task's range [0.0, 2.0]"),
    ("cards", "instructed-a-string", lambda c: card_run(c, sts_card('instructed = "yes"\n')),
     "instructed: Input should be a valid boolean"),
    ("cards", "language-a-word", lambda c: card_run(c, 'name = "Mine"\ntype = "STS"\nlanguage = "English"\n'),
     "language: String should match pattern"),
    ("cards", "type-summarization", lambda c: card_run(c, sts_card("", "Summarization")), "type: Input should be"),
    ("cards", "unknown-key", lambda c: card_run(c, sts_card('metric = "x"\n')), "metric: Extra inputs"),
    ("cards", "description-a-number", lambda c: card_run(c, sts_card("description = 5\n")),
     "description: Input should be a valid string"),
    ("cards", "name-of-a-registry-task", lambda c: card_run(c, sts_card().replace('"Mine"', '"STS12"')),
     "name 'STS12' is a registry task's"),
    ("cards", "name-too-long", lambda c: card_run(c, sts_card().replace('"Mine"', '"' + "M" * 101 + '"')),
     "name: String should have at most 100 characters"),
    ("cards", "card-file-over-a-mebibyte", lambda c: card_run(c, sts_card("# pad\n" * 200_000)),
     "larger than 1 MiB"),
    ("cards", "duplicate-key", lambda c: card_run(c, sts_card('name = "Again"\n')), "not valid TOML"),
    ("cards", "pair-card-one-label", lambda c: card_run(c, sts_card("", "PairClassification"), rows=[
        {"sentence1": "a", "sentence2": "b", "label": 1}] * 3), "average precision needs both labels"),
    ("cards", "split-named-without-its-file", lambda c: card_run(c, sts_card('splits = ["dev"]\n')),
     "no data for split(s) dev"),
    # --- suites ------------------------------------------------------------------------------
    ("suites", "card-path-missing-beside-the-suite", lambda c: suite_run(
        c, '[suite]\nname = "s"\n[[task]]\npath = "other-card"\n'), "other-card: no such folder"),
    ("suites", "weight-a-string", lambda c: suite_run(c, '[suite]\nname = "s"\n[[task]]\npath = "card"\n'
                                                         'weight = "2"\n'), "task.0.weight: Input should be"),
    ("suites", "weight-infinite", lambda c: suite_run(c, '[suite]\nname = "s"\n[[task]]\npath = "card"\n'
                                                         "weight = inf\n"), "task.0.weight"),
    ("suites", "no-tasks", lambda c: suite_run(c, 'task = []\n[suite]\nname = "s"\n'),
     "task: List should have at least 1 item"),
    ("suites", "name-a-path", lambda c: suite_run(c, '[suite]\nname = "../s"\n[[task]]\npath = "card"\n'),
     "suite.name: String should match pattern"),
    ("suites", "average-unknown", lambda c: suite_run(c, '[suite]\nname = "s"\naverage = "median"\n[[task]]\n'
                                                         'path = "card"\n'), "suite.average: Input should be"),
    ("suites", "task-twice", lambda c: suite_run(c, '[suite]\nname = "s"\n[[task]]\npath = "card"\n[[task]]\n'
                                                    'path = "./card"\n'), "a task is listed twice"),
    ("suites", "suite-file-missing", lambda c: suite_args(c, c.tmp / "none.toml"), "none.toml: no such file"),
    # --- sweeps ------------------------------------------------------------------------------
    ("sweeps", "two-paths-same-files", same_files_twice, "resolve to the same results folder"),
    ("sweeps", "models-file-not-toml", lambda c: models_file(c, "[[model]\n"), "models.toml: not valid TOML"),
    ("sweeps", "models-file-unknown-key", lambda c: models_file(c, '[[model]]\nname = "a/b"\nweights = "x"\n'),
     "model.0.weights: Extra inputs"),
    ("sweeps", "models-file-empty-name", lambda c: models_file(c, '[[model]]\nname = ""\n'),
     "model.0.name: String should have at least 1 character"),
    ("sweeps", "models-file-no-models", lambda c: models_file(c, "model = []\n"),
     "model: List should have at least 1 item"),
    ("sweeps", "models-file-missing", lambda c: ["run", "--models", str(c.tmp / "none.toml"), "--tasks",
                                                  "BgeEvalDemoSTS", "--output", str(c.out)],
     "--models"),
    ("sweeps", "models-file-path-without-checkpoint", lambda c: models_file(
        c, f'[[model]]\nname = "{MODEL}"\npath = "no-such-checkpoint"\n'), "no-such-checkpoint"),
    ("sweeps", "models-file-revision-climbs-out", lambda c: models_file(
        c, f'[[model]]\nname = "{MODEL}"\npath = "{c.built_bge}"\nrevision = "../x"\n'), "not usable as a folder"),
    # --- Ray ---------------------------------------------------------------------------------
    ("ray", "address-without-port", lambda c: ["run", "--ray", "somewhere", "--tasks", "BgeEvalDemoSTS", "--output",
                                               str(c.out)], "--ray somewhere: expected HOST:PORT"),
    ("ray", "address-port-not-a-number", lambda c: ["run", "--ray", "host:http", "--tasks", "BgeEvalDemoSTS",
                                                    "--output", str(c.out)], "expected HOST:PORT"),
    # --- the embedding cache -----------------------------------------------------------------
    ("cache", "cache-command-on-a-file", lambda c: (_write(c.tmp / "f", "x"), [
        "cache", "--embedding-cache", str(c.tmp / "f")])[1], "--embedding-cache"),
]

ARGPARSE_CASES = [
    ("options", "batch-size-zero", ["run", "--batch-size", "0"], "--batch-size"),
    ("options", "token-budget-text", ["run", "--token-budget", "lots"], "--token-budget"),
    ("options", "precision-unknown", ["run", "--precision", "fp8"], "--precision"),
    ("options", "policy-unknown", ["run", "--instruction-policy", "always"], "--instruction-policy"),
    ("options", "instruction-without-bge-policy", ["run", "--instruction", "Q:", "--instruction-policy", "none"],
     "instruction (--instruction): needs instruction_policy 'bge'"),
    ("options", "model-path-without-model", ["run", "--model-path", "x"], "--model-path needs --model"),
    ("options", "device-and-devices", ["run", "--device", "cpu", "--devices", "cpu", "cpu"], "give device or devices"),
    ("options", "reranker-path-without-reranker", ["run", "--reranker-path", "x"], "--reranker-path needs --reranker"),
    ("options", "data-dir-not-a-folder", ["run", "--data-dir", "/nonexistent/folder"], "--data-dir"),
    ("gate", "max-drop-nan", ["gate", "--results", ".", "--baseline", "b", "--max-drop", "nan"], "--max-drop"),
    ("gate", "significance-one", ["gate", "--results", ".", "--baseline", "b", "--significance", "1"],
     "--significance"),
    ("options", "unknown-command", ["evaluate"], "invalid choice"),
    ("options", "rerank-top-k-zero", ["run", "--rerank-top-k", "0"], "--rerank-top-k"),
    ("options", "ray-retries-negative", ["run", "--ray-retries", "-1"], "--ray-retries"),
    ("options", "ray-gpus-text", ["run", "--ray-gpus-per-task", "one"], "--ray-gpus-per-task"),
    ("cache", "max-size-unknown-unit", ["cache", "--max-size", "10 apples"], "--max-size"),
    ("cache", "older-than-negative", ["cache", "--older-than", "-1"], "--older-than"),
    ("gate", "max-drop-negative", ["gate", "--results", ".", "--baseline", "b", "--max-drop", "-0.1"], "--max-drop"),
    ("gate", "significance-zero", ["gate", "--results", ".", "--baseline", "b", "--significance", "0"],
     "--significance"),
    ("options", "validate-without-path", ["validate"], "the following arguments are required: PATH"),
    ("options", "reranker-with-ray", ["run", "--ray", "--reranker", "x"], "--reranker is not run on Ray"),
    ("options", "corpus-chunk-zero", ["run", "--corpus-chunk", "0"], "--corpus-chunk"),
    ("options", "corpus-shards-zero", ["run", "--ray", "--corpus-shards", "0"], "--corpus-shards"),
    ("options", "corpus-shards-without-ray", ["run", "--corpus-shards", "4"],
     "--corpus-shards splits a corpus over Ray"),
    ("options", "unknown-task-type", ["tasks", "--task-types", "Retreival"], "Did you mean 'Retrieval'"),
    ("options", "unknown-category", ["run", "--benchmark", "demo", "--categories", "x2y"], "--categories 'x2y'"),
    ("options", "task-types-with-tasks", ["run", "--tasks", "SciFact", "--task-types", "STS"],
     "task_types (--task-types): filters a benchmark's tasks or mteb's"),
    ("options", "filter-matches-nothing", ["tasks", "--benchmark", "demo", "--task-types", "Clustering"],
     "no task matches the filters"),
    ("options", "unknown-index", ["run", "--index", "hnws:32"], "--index 'hnws:32': unknown variant"),
    ("options", "index-bad-parameter", ["run", "--index", "dims:0"], "dims must be a whole number of 1 or more"),
    ("options", "filter-with-suite", ["run", "--suite", "s.toml", "--languages", "eng"],
     "--suite names its own tasks: give it without --tasks, --task-dir, --benchmark or task filters"),
]


def nothing_written(case: Case) -> list[str]:
    return [str(p) for p in case.out.rglob("*")] if case.out.exists() else []


@pytest.mark.parametrize("family,name,make,message", CASES, ids=[f"{f}-{n}" for f, n, _, _ in CASES])
def test_bad_input_is_one_clear_line(family, name, make, message, tmp_path, built_bge, capsys,
                                     monkeypatch):
    if name == "tokenizer-processes-not-a-number":
        monkeypatch.setenv("BGE_EVAL_TOKENIZER_PROCESSES", "many")
    case = Case(tmp_path, built_bge)
    args = make(case)
    try:
        code = main(args)
    except SystemExit as exit_info:  # refused by argparse, before anything runs
        code = exit_info.code
    captured = capsys.readouterr()
    said = captured.err + captured.out
    assert code == 2, said
    assert message in said, said
    assert "Traceback" not in said and "bge_eval: internal error" not in said
    assert nothing_written(case) == []


@pytest.mark.parametrize("family,name,args,message", ARGPARSE_CASES, ids=[f"{f}-{n}" for f, n, _, _ in ARGPARSE_CASES])
def test_bad_options_name_the_option(family, name, args, message, tmp_path, capsys, monkeypatch):
    """argparse refuses what does not parse (SystemExit); RunConfig what it cannot use (exit code 2)."""
    monkeypatch.chdir(tmp_path)
    try:
        code = main(args)
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage,message", [
    (lambda f: f.write_text(f.read_text()[:50]), "corrupt or truncated result file"),
    (lambda f: f.write_text("[]"), "not an mteb result file"),
    (lambda f: f.write_text(json.dumps({"scores": {"test": 5}})), "split 'test' is not a list of scores"),
    (lambda f: f.write_text(json.dumps({"scores": {"test": [{"main_score": "high"}]}})), "numeric main_score"),
    (lambda f: f.write_text(json.dumps({k: v for k, v in json.loads(f.read_text()).items() if k != "task_name"})),
     "not an mteb result file as mteb reads it (task_name: Field required)"),
], ids=["truncated", "a-list", "split-not-a-list", "main-score-text", "no-task-name-for-mteb"])
def test_a_damaged_result_file_is_named_and_left_as_it_is(damage, message, tmp_path, built_bge, capsys):
    args = ["run", "--model", MODEL, "--model-path", str(built_bge), "--tasks", "BgeEvalDemoSTS", "--output",
            str(tmp_path / "out"), "--device", "cpu", "--no-embedding-cache"]
    assert main(args) == 0
    (result,) = (tmp_path / "out").rglob("BgeEvalDemoSTS.json")
    damage(result)
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "BgeEvalDemoSTS.json" in err and message in err and "--overwrite" in err and "Traceback" not in err
    assert {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()} == before
    assert main(args + ["--overwrite"]) == 0  # recomputed on request


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, built_bge, capsys, monkeypatch):
    from bge_eval.run import extras

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(extras, "atomic_write_json", full)
    code = main(["run", "--model", MODEL, "--model-path", str(built_bge), "--tasks", "BgeEvalDemoSTS", "--output",
                 str(tmp_path / "out"), "--device", "cpu", "--no-embedding-cache"])
    err = capsys.readouterr().err
    assert code == 2 and "no space left on the device writing" in err and "BgeEvalDemoSTS" in err
    assert f"(in the --output folder, {tmp_path / 'out'})" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_a_file_to_write_that_is_a_folder_is_one_line(tmp_path, built_bge, capsys):
    assert main(["run", "--model", MODEL, "--model-path", str(built_bge), "--tasks", "BgeEvalDemoSTS", "--output",
                 str(tmp_path / "out"), "--device", "cpu", "--no-embedding-cache"]) == 0
    (tmp_path / "report" / "index.html").mkdir(parents=True)  # where the report's page goes
    capsys.readouterr()
    assert main(["report", str(tmp_path / "out"), "--output", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bge_eval: error: {tmp_path / 'report' / 'index.html'} (in the --output folder")
    assert "Is a directory" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_full_cache_disk_is_named_and_the_run_goes_on(tmp_path, built_bge, caplog, monkeypatch):
    """The cache is an optimisation: its disk full, the run stores no vectors, says so, and scores."""
    from bge_eval.encoding import embedding_cache

    def full(path, parts):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(embedding_cache, "atomic_write_bytes", full)
    cache = tmp_path / "cache"
    code = main(["run", "--model", MODEL, "--model-path", str(built_bge), "--tasks", "BgeEvalDemoSTS", "--output",
                 str(tmp_path / "out"), "--device", "cpu", "--embedding-cache", str(cache)])
    assert code == 0 and list((tmp_path / "out").rglob("BgeEvalDemoSTS.json"))
    assert f"embedding cache: could not write {cache}" in caplog.text and "No space left on device" in caplog.text


def test_an_unwritable_cache_is_one_line_before_any_work(tmp_path, built_bge, capsys, monkeypatch):
    from bge_eval.encoding import embedding_cache

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(embedding_cache.tempfile, "NamedTemporaryFile", read_only)
    cache = tmp_path / "cache"
    code = main(["run", "--model", MODEL, "--model-path", str(built_bge), "--tasks", "BgeEvalDemoSTS", "--output",
                 str(tmp_path / "out"), "--device", "cpu", "--embedding-cache", str(cache)])
    err = capsys.readouterr().err
    assert code == 2 and f"--embedding-cache {cache}: not writable (Read-only file system)" in err
    assert "--no-embedding-cache" in err and "Traceback" not in err and not list((tmp_path / "out").rglob("*.json"))


@pytest.mark.parametrize("content", ["[]", "{broken", '{"identity": 5}'])
def test_a_malformed_cache_space_file_is_named(tmp_path, capsys, content):
    space = tmp_path / "cache" / "v2" / "ab12"
    space.mkdir(parents=True)
    (space / "space.json").write_text(content, encoding="utf-8")
    assert main(["cache", "--embedding-cache", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert f"{space / 'space.json'}:" in err and "internal error" not in err
    assert main(["cache", "--embedding-cache", str(tmp_path / "cache"), "--all"]) == 0  # and it can be pruned


def test_a_cache_that_cannot_be_read_is_one_line(tmp_path, capsys, monkeypatch):
    from bge_eval.encoding import cache_upkeep

    def denied(folder):
        raise PermissionError(errno.EACCES, "Permission denied", str(folder / "v2"))

    monkeypatch.setattr(cache_upkeep, "cache_report", denied)
    assert main(["cache", "--embedding-cache", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"--embedding-cache {tmp_path}: {tmp_path / 'v2'}: Permission denied" in err and "internal error" not in err


def test_an_unexpected_failure_is_one_line_with_the_traceback_in_a_file(tmp_path, built_bge, capsys, monkeypatch):
    from bge_eval.run import extras

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(extras, "per_query", broken)
    monkeypatch.setattr(extras, "similarities", broken)
    code = main(["run", "--model", MODEL, "--model-path", str(built_bge), "--tasks", "BgeEvalDemoRetrieval",
                 "--output", str(tmp_path / "out"), "--device", "cpu", "--no-embedding-cache"])
    err = capsys.readouterr().err.strip()
    line = next(line for line in err.splitlines() if "ZeroDivisionError" in line)
    assert code == 1 and line.startswith(f"bge_eval: error: {MODEL} BgeEvalDemoRetrieval: ZeroDivisionError: a bug")
    assert err.count("ZeroDivisionError") == 1 and "Traceback" not in err and "1 of 1 task(s) failed" in err
    log = line.split("(traceback in ")[1].rstrip(")")
    assert "Traceback" in open(log).read() and "a bug" in open(log).read()


def _other_vectors(shard):  # same size, other content, the old checksums
    from bge_eval.encoding.embedding_cache import read_header

    header = read_header(shard)
    data = bytearray(shard.read_bytes())
    data[header.vectors_offset:] = data[header.vectors_offset:][::-1]
    shard.write_bytes(bytes(data))


CACHE_DAMAGE = [
    ("other-vectors", _other_vectors),
    ("truncated", lambda shard: _truncate(shard, shard.stat().st_size // 2)),
    ("header-only", lambda shard: _truncate(shard, 4096)),
    ("empty", lambda shard: shard.write_bytes(b"")),
    ("not-a-cache-file", lambda shard: shard.write_bytes(b"\x00garbage")),
]


@pytest.mark.parametrize("damage", [d for _, d in CACHE_DAMAGE], ids=[n for n, _ in CACHE_DAMAGE])
def test_a_damaged_embedding_cache_is_named_and_re_encoded_with_the_right_score(damage, tmp_path, built_bge, capsys,
                                                                                caplog):
    """The caches family: a damaged entry is not an error the user must fix; the run names the
    entry, encodes again and gives the score an undamaged cache gives."""
    case = Case(tmp_path, built_bge)
    words = "red green blue cyan magenta yellow black white grey brown".split()
    write_jsonl(case.data / "STS13" / "test.jsonl", [
        {"sentence1": f"{words[i % 10]} {words[i // 10 % 10]} {i}", "sentence2": f"{words[i * 3 % 10]} {i}",
         "score": float(i % 5)} for i in range(80)])  # 80 distinct texts a side: cached calls
    args = case.run("STS13", "--embedding-cache", str(tmp_path / "cache"), cache=True)
    assert main(args) == 0
    (result,) = case.out.rglob("STS13.json")
    right = json.loads(result.read_text())["scores"]["test"][0]["cosine_spearman"]
    entries = sorted((tmp_path / "cache").rglob("*.shard"))
    assert len(entries) == 2  # the two sides of the pairs
    for entry in entries:
        damage(entry)
    capsys.readouterr()
    caplog.clear()
    assert main(args + ["--overwrite"]) == 0
    said = capsys.readouterr().err + caplog.text  # the CLI's log lines (pytest holds the log handler)
    assert all(f"embedding cache shard {entry}" in said for entry in entries) and "encoded again" in said, said
    assert json.loads(result.read_text())["scores"]["test"][0]["cosine_spearman"] == right
    assert "Traceback" not in said


def test_at_least_150_cases():
    """The table and the cases that need their own test below it (damaged results 5, full disks 2,
    unwritable / unreadable / malformed cache 5, an unexpected failure 1, damaged cache entries)."""
    assert len(CASES) + len(ARGPARSE_CASES) + 5 + 2 + 5 + 1 + len(CACHE_DAMAGE) >= 150
