"""Your own data as a task (tasks/cards.py): parity with the registry task whose files a card
copies, the recipe and identity on cards, report and gate over cards, --task-dir, `validate`,
and every defective card or data one clear line (exit 2, nothing written)."""

import json
import shutil

import pytest

from bge_eval.cli import main
from bge_eval.results.published import published_value
from tests.helpers import MINILM, beir, write_jsonl

TOLERANCE = 5e-4  # as the registry reproductions
TINY_MODEL = "BAAI/bge-small-en-v1.5"


def card(folder, **fields):
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in fields.items()]
    (folder / "task.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def copy_card(shared_data, tmp_path, source, name, task_type):
    folder = shutil.copytree(shared_data / source, tmp_path / "cards" / name, ignore=shutil.ignore_patterns("*.md"))
    return card(folder, name=name, type=task_type, language="eng")


def result(output, name):
    (path,) = output.rglob(f"{name}.json")
    return json.loads(path.read_text())["scores"]


def test_a_card_copy_of_stsbenchmark_scores_as_stsbenchmark(shared_data, tmp_path, capsys):
    folder = copy_card(shared_data, tmp_path, "STSBenchmark", "MySTS", "STS")
    assert main(["run", "--model", MINILM, "--tasks", str(folder), "--output", str(tmp_path / "out"),
                 "--no-embedding-cache"]) == 0
    ours = result(tmp_path / "out", "MySTS")["test"][0]["cosine_spearman"]
    assert abs(ours - published_value(MINILM, "STSBenchmark", "test")) <= TOLERANCE  # 0.820325
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("MySTS"))
    assert row.split()[:4] == ["MySTS", "STS", "test", "cosine_spearman"]  # the console names the metric


@pytest.mark.slow
def test_a_card_copy_of_scifact_scores_as_scifact(shared_data, tmp_path):
    folder = copy_card(shared_data, tmp_path, "SciFact", "MySciFact", "Retrieval")
    assert main(["run", "--model", MINILM, "--tasks", str(folder), "--output", str(tmp_path / "out"),
                 "--no-embedding-cache"]) == 0
    ours = result(tmp_path / "out", "MySciFact")["test"][0]["ndcg_at_10"]
    assert abs(ours - published_value(MINILM, "SciFact", "test")) <= TOLERANCE  # 0.64508


def tiny_retrieval(folder, **fields):
    beir(folder, [{"_id": f"d{i}", "title": "", "text": f"document number {i} about topic {i % 3}"} for i in range(12)],
         [{"_id": f"q{i}", "text": f"which document is about topic {i}"} for i in range(3)],
         [(f"q{i}", f"d{i}", 1) for i in range(3)] + [("q0", "d3", 1)])
    return card(folder, **{"name": "MyTickets", "type": "Retrieval", "language": "eng", **fields})


def tiny_sts(folder, **fields):
    write_jsonl(folder / "test.jsonl", [{"sentence1": f"a sentence {i}", "sentence2": f"another one {i % 4}",
                                         "score": float(i % 5)} for i in range(20)])
    return card(folder, **{"name": "MyPairs", "type": "STS", "language": "eng", **fields})


def listing(capsys, *args):
    capsys.readouterr()
    assert main(["tasks", *args, "--json"]) == 0
    return {row["task"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}


def test_the_recipe_on_cards(tmp_path, capsys):
    """A card's retrieval queries get the instruction as the recipe's retrieval tasks do, unless
    the card says otherwise; STS never."""
    from bge_eval.models import EN_QUERY_INSTRUCTION

    default = tiny_retrieval(tmp_path / "a")
    off = tiny_retrieval(tmp_path / "b", name="MyTicketsPlain", instructed=False)
    sts = tiny_sts(tmp_path / "c")
    rows = listing(capsys, "--model", TINY_MODEL, "--tasks", str(default), str(off), str(sts))
    assert rows["MyTickets"]["instruction"] == EN_QUERY_INSTRUCTION
    assert rows["MyTicketsPlain"]["instruction"] is None and rows["MyPairs"]["instruction"] is None
    assert {r["normalize"] for r in rows.values()} == {False}  # English: as eval_MTEB.py
    assert rows["MyTickets"]["metric"] == "ndcg_at_10" and rows["MyPairs"]["metric"] == "cosine_spearman"


def test_cards_are_run_reported_gated_and_recomputed_when_edited(tmp_path, tiny_bge, capsys, caplog):
    cards = tmp_path / "cards"
    tiny_retrieval(cards / "tickets")
    tiny_sts(cards / "pairs")
    out = tmp_path / "out"
    args = ["run", "--model", TINY_MODEL, "--model-path", str(tiny_bge), "--task-dir", str(cards),
            "--tasks", "BgeEvalDemoSTS", "--output", str(out), "--device", "cpu", "--no-embedding-cache"]
    assert main(args) == 0
    assert {"MyTickets", "MyPairs", "BgeEvalDemoSTS"} <= {p.stem for p in out.rglob("*.json")}
    manifest = json.loads(next(out.rglob("bge_eval_manifest.json")).read_text())
    assert manifest["tasks"]["MyTickets"]["data_source"] == "card"

    report = tmp_path / "report"
    assert main(["report", str(out), "--output", str(report)]) == 0
    text = (report / "README.md").read_text()
    assert "| MyTickets | Retrieval |" in text and "| MyPairs | STS |" in text and "| BgeEvalDemoSTS | STS |" in text

    baseline = tmp_path / "baseline.json"
    assert main(["gate", "--results", str(out), "--baseline", str(baseline), "--write-baseline",
                 "--tasks", "MyTickets"]) == 0
    capsys.readouterr()
    assert main(["gate", "--results", str(out), "--baseline", str(baseline), "--tasks", "MyTickets"]) == 0
    assert "gate: PASS" in capsys.readouterr().out

    scores = tiny_sts(cards / "pairs")  # rewritten: same content, same card: reused
    caplog.clear()
    assert main(args) == 0 and "recomputed" not in caplog.text
    write_jsonl(scores / "test.jsonl", [{"sentence1": f"a sentence {i}", "sentence2": f"other {i}",
                                         "score": float(i % 3)} for i in range(20)])
    assert main(args) == 0
    assert "MyPairs: the saved result is recomputed: the task's data changed" in caplog.text
    card(cards / "pairs", name="MyPairs", type="STS", language="eng", score_range=[0, 5])  # the card edited
    caplog.clear()
    assert main(args) == 0 and "MyPairs: the saved result is recomputed" in caplog.text


def test_validate_describes_the_data(tmp_path, minilm_path, capsys):
    folder = tiny_retrieval(tmp_path / "tickets")
    assert main(["validate", str(folder), "--model", MINILM]) == 0
    out = capsys.readouterr().out
    assert "MyTickets (Retrieval, eng): valid" in out and "12 documents, 3 queries, 4 judgements" in out
    assert "tokens" in out and "relevant documents per query: {1: 2, 2: 1}" in out
    sts = tiny_sts(tmp_path / "pairs")
    assert main(["validate", str(sts)]) == 0
    out = capsys.readouterr().out
    assert "20 rows" in out and "score range: [0.0, 4.0]" in out and "16 repeated" in out


DEFECTS = [
    ("no-card-file", lambda d: (d / "task.toml").unlink(), "task.toml: missing"),
    ("not-toml", lambda d: (d / "task.toml").write_text("name = \n"), "not valid TOML"),
    ("unknown-key", lambda d: card(d, name="X1", type="STS", language="eng", colour="red"), "colour: Extra inputs"),
    ("no-name", lambda d: card(d, type="STS", language="eng"), "name: Field required"),
    ("no-type", lambda d: card(d, name="X1", language="eng"), "type: Field required"),
    ("unknown-type", lambda d: card(d, name="X1", type="Regression", language="eng"), "type: Input should be"),
    ("no-language", lambda d: card(d, name="X1", type="STS"), "language: Field required"),
    ("bad-language", lambda d: card(d, name="X1", type="STS", language="English"), "language: String should match"),
    ("language-without-script", lambda d: card(d, name="X1", type="STS", language="xho"), "give the script too"),
    ("name-a-path", lambda d: card(d, name="../X1", type="STS", language="eng"), "name: String should match"),
    ("name-of-a-registry-task", lambda d: card(d, name="STSBenchmark", type="STS", language="eng"),
     "is a registry task's"),
    ("split-without-data", lambda d: card(d, name="X1", type="STS", language="eng", splits=["dev"]),
     "no data for split(s) dev"),
    ("empty-splits", lambda d: card(d, name="X1", type="STS", language="eng", splits=[]), "splits: List should have"),
    ("no-split-files", lambda d: ((d / "test.jsonl").unlink(), card(d, name="X1", type="STS", language="eng")),
     "no data for split(s) (none found)"),
    ("classification-without-train", lambda d: (d / "test.jsonl").write_text(
        '{"text": "a", "label": 0}\n{"text": "b", "label": 1}\n') and card(
        d, name="X1", type="Classification", language="eng"), "needs a train split"),
    ("score-range-not-numbers", lambda d: card(d, name="X1", type="STS", language="eng", score_range=["a", "b"]),
     "score_range.0: Input should be a valid number"),
    ("score-range-reversed", lambda d: card(d, name="X1", type="STS", language="eng", score_range=[5, 0]),
     "score_range: expected two finite numbers, the lowest score first (got [5.0, 0.0])"),
    ("score-range-infinite", lambda d: (d / "task.toml").write_text(
        'name = "X1"\ntype = "STS"\nlanguage = "eng"\nscore_range = [0, inf]\n'), "expected two finite numbers"),
    ("pair-card-with-one-label", lambda d: (d / "test.jsonl").write_text(
        '{"sentence1": "a", "sentence2": "b", "label": 1}\n{"sentence1": "c", "sentence2": "d", "label": 1}\n')
     and card(d, name="X1", type="PairClassification", language="eng"), "average precision needs both labels"),
    ("instructed-not-bool", lambda d: card(d, name="X1", type="STS", language="eng", instructed="sometimes"),
     "instructed: Input should be a valid boolean"),
    ("score-outside-range", lambda d: card(d, name="X1", type="STS", language="eng", score_range=[0, 1]),
     "outside this task's range [0.0, 1.0]"),
    ("bad-json-line", lambda d: (d / "test.jsonl").write_text(
        '{"sentence1": "a", "sentence2": "b", "score": 1}\n{oops\n'), "test.jsonl:2"),
    ("not-utf8", lambda d: (d / "task.toml").write_bytes(b"name = \"\xff\"\n"), "not UTF-8"),
    ("main-score-not-a-metric", lambda d: card(d, name="X1", type="STS", language="eng", main_score="cosine_ap"),
     "task.toml: main_score 'cosine_ap' is not a metric mteb writes for STS"),
    ("main-score-of-an-unwritten-depth", lambda d: card(d, name="X1", type="Retrieval", language="eng",
                                                        main_score="ndcg_at_7"), "for example ndcg_at_1"),
    ("score-range-on-a-pair-card", lambda d: card(d, name="X1", type="PairClassification", language="eng",
                                                  score_range=[0, 1]), "score_range is for STS cards"),
    ("split-a-path", lambda d: card(d, name="X1", type="STS", language="eng", splits=["../../test"]),
     "splits.0: String should match pattern"),
    ("split-twice", lambda d: card(d, name="X1", type="STS", language="eng", splits=["test", "test"]),
     "a split is listed twice"),
    ("description-too-long", lambda d: card(d, name="X1", type="STS", language="eng", description="x" * 2001),
     "description: String should have at most 2000 characters"),
    ("card-file-too-large", lambda d: (d / "task.toml").write_text(
        'name = "X1"\ntype = "STS"\nlanguage = "eng"\n' + "# padding\n" * 120_000), "larger than 1 MiB"),
    ("name-too-long", lambda d: card(d, name="X" * 101, type="STS", language="eng"),
     "name: String should have at most"),
    ("instructed-a-string", lambda d: card(d, name="X1", type="STS", language="eng", instructed="true"),
     "instructed: Input should be a valid boolean"),
    ("score-range-strings", lambda d: card(d, name="X1", type="STS", language="eng", score_range=["0", "5"]),
     "score_range.0: Input should be a valid number"),
    ("splits-not-a-list", lambda d: card(d, name="X1", type="STS", language="eng", splits="test"),
     "splits: Input should be a valid list"),
]


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("name,damage,message", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_a_defective_card_is_one_clear_line(name, damage, message, command, tmp_path, tiny_bge, capsys):
    folder = tiny_sts(tmp_path / "card", name="X1")
    damage(folder)
    out = tmp_path / "out"
    args = (["run", "--model", TINY_MODEL, "--model-path", str(tiny_bge), "--tasks", str(folder), "--output",
             str(out), "--device", "cpu", "--no-embedding-cache"] if command == "run" else ["validate", str(folder)])
    assert main(args) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # weight-loading bars may come before it
    assert message in last and err.count("bge_eval: error") == 1 and "Traceback" not in err, err
    assert not out.exists()


def test_two_cards_of_one_name_and_an_empty_task_dir_are_errors(tmp_path, tiny_bge, capsys):
    tiny_sts(tmp_path / "cards" / "a")
    tiny_sts(tmp_path / "cards" / "b")
    base = ["run", "--model", TINY_MODEL, "--model-path", str(tiny_bge), "--output", str(tmp_path / "out"),
            "--device", "cpu", "--no-embedding-cache"]
    assert main([*base, "--task-dir", str(tmp_path / "cards")]) == 2
    assert "a second task named 'MyPairs'" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([*base, "--task-dir", str(tmp_path / "empty")]) == 2
    assert "no task.toml under it" in capsys.readouterr().err
    assert main([*base, "--tasks", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_readmes_own_data_commands_work_as_written(tmp_path, monkeypatch, capsys):
    """Every command of README.md's "Evaluate on your own data" block, from a copy of the
    repository's examples (outputs land in the working folder, as on a fresh clone)."""
    import shlex

    from tests.helpers import REPO

    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## Evaluate on your own data", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [shlex.split(line) for line in block.strip().splitlines()]
    assert len(commands) == 5 and all(c[:3] == ["python", "-m", "bge_eval"] for c in commands)
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    for command in commands:
        assert main(command[3:]) == 0, command
    assert "gate: PASS" in capsys.readouterr().out
    assert (tmp_path / "own-report" / "index.html").is_file()


TYPE_DATA = {
    "STS": {"test": [{"sentence1": f"a sentence {i}", "sentence2": f"another one {i % 4}", "score": float(i % 5)}
                     for i in range(20)]},
    "PairClassification": {"test": [{"sentence1": f"a question {i}", "sentence2": f"a question {i if i % 2 else i + 1}",
                                     "label": i % 2} for i in range(12)]},
    "Classification": {split: [{"text": f"{'great' if i % 2 else 'awful'} product number {i}", "label": i % 2}
                               for i in range(24)] for split in ("train", "test")},
    "Clustering": {"test": [{"sentences": [f"{topic} item {i}" for topic in ("cats", "cars") for i in range(6)],
                             "labels": [topic for topic in ("cats", "cars") for _ in range(6)]}]},
    "Reranking": {"test": [{"query": f"about topic {i}", "positive": [f"a text on topic {i}"],
                            "negative": [f"a text on topic {i + 1}", "something else"]} for i in range(5)]},
}


@pytest.mark.parametrize("task_type", sorted(TYPE_DATA))
def test_every_card_type_runs_through_mteb(task_type, tmp_path, tiny_bge):
    folder = tmp_path / "card"
    for split, rows in TYPE_DATA[task_type].items():
        write_jsonl(folder / f"{split}.jsonl", rows)
    card(folder, name=f"My{task_type}", type=task_type, language="eng")
    out = tmp_path / "out"
    assert main(["run", "--model", TINY_MODEL, "--model-path", str(tiny_bge), "--tasks", str(folder), "--output",
                 str(out), "--device", "cpu", "--no-embedding-cache"]) == 0
    scores = result(out, f"My{task_type}")
    from bge_eval.tasks.types import TASK_KINDS

    assert list(scores) == ["test"] and TASK_KINDS[task_type].card_main_score in scores["test"][0]
    assert 0 <= scores["test"][0]["main_score"] <= 1
    missing = set(TASK_KINDS[task_type].card_metrics) - set(scores["test"][0])
    assert TASK_KINDS[task_type].card_metrics and not missing  # every name a card may choose is written


def test_a_line_longer_than_the_bound_is_refused_unread(tmp_path, tiny_bge, capsys, monkeypatch):
    """A data file with no newlines is refused at the bound, never read whole (the bound made small here)."""
    from bge_eval.tasks import local_data

    monkeypatch.setattr(local_data, "MAX_LINE_BYTES", 2**20)
    folder = tiny_sts(tmp_path / "card", name="X1")
    (folder / "test.jsonl").write_text('{"sentence1": "' + "a" * 3 * 2**20 + '"', encoding="utf-8")
    assert main(["validate", str(folder)]) == 2
    assert "test.jsonl:1: a line longer than 1 MiB" in capsys.readouterr().err


def test_a_card_goes_through_the_second_stage(tmp_path, tiny_bge):
    """--reranker on a run with a card retrieval task reranks the card's first-stage rankings."""
    from bge_eval.config import RunConfig
    from bge_eval.encoding.cross_encoder import FunctionReranker
    from bge_eval.models import mteb_meta, resolve_model
    from bge_eval.run.runner import run
    from bge_eval.run.second_stage import run_reranker

    class WordOverlap:
        def compute_score(self, pairs):
            return [len(set(q.split()) & set(p.split())) for q, p in pairs]

    folder = tiny_retrieval(tmp_path / "tickets")
    config = RunConfig(model=TINY_MODEL, model_path=tiny_bge, tasks=(str(folder),), output=tmp_path / "out",
                       device="cpu", embedding_cache=None)
    first = run(config)
    assert first.outcomes[0].card == str(folder.resolve())
    meta = mteb_meta(resolve_model(TINY_MODEL, tiny_bge))
    summary = run_reranker(config, first, TINY_MODEL, tiny_bge, reranker=FunctionReranker(WordOverlap(), meta),
                           top_k=5)
    (comparison,) = summary.comparisons
    assert comparison.task == "MyTickets" and set(comparison.second_stage) == {"ndcg_at_10", "map_at_100", "mrr_at_10"}
