"""Crash safety, locking, corrupt results, determinism and offline failure modes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bge_eval._util import output_lock
from bge_eval.cli import main
from bge_eval.config import RunConfig
from bge_eval.encoding.embedding_cache import SHARD_SUFFIX, read_header
from bge_eval.errors import BgeEvalError, DataError
from bge_eval.run.runner import run
from tests.helpers import write_jsonl

MODEL = "BAAI/bge-small-en-v1.5"
VOLATILE = {"evaluation_time", "evaluation_phases", "date", "kg_co2_emissions"}


@pytest.fixture(scope="module")
def two_tasks(tmp_path_factory):
    """STS13: 40 pairs (seconds); STS14 and STS15: 40,000 pairs each, every sentence distinct
    (STS15's upper-case: no text is shared, so each is encoded)."""
    root = tmp_path_factory.mktemp("data")
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    for task, n, case in (("STS13", 40, str.lower), ("STS14", 40_000, str.lower), ("STS15", 40_000, str.upper)):
        write_jsonl(root / task / "test.jsonl", [
            {"sentence1": case(f"{i} " + " ".join(words[(i + k) % 12] for k in range(6))),
             "sentence2": case(f"{i} " + " ".join(words[(i * 7 + k) % 12] for k in range(5))),
             "score": float(i % 6)} for i in range(n)
        ])
    return root


TASKS = ("STS13", "STS14", "STS15")


def cli(tiny_bge, data, output, *extra):
    """The run, with an embedding cache of its own beside the output: a shard of STS14's size there
    (after STS13's small ones) is STS14's first sentences: proof the run is inside STS14, with
    STS14's second sentences and all of STS15 still to encode."""
    return [sys.executable, "-m", "bge_eval", "run", "--model", MODEL, "--model-path", str(tiny_bge),
            "--tasks", *TASKS, "--data-dir", str(data), "--output", str(output), "--device", "cpu",
            "--embedding-cache", str(Path(output).parent / f"{Path(output).name}-cache"), *extra]


def scores(path):
    data = json.loads(path.read_text())
    return {k: v for k, v in data.items() if k not in VOLATILE}


def start_and_wait_until_inside_the_second_task(command, results_root):
    """Start the run; return once STS13's result is in place and STS14 has encoded its first
    sentences (their shard appears after that call, while its second call runs)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    cache = results_root.parent / f"{results_root.name}-cache"
    deadline = time.monotonic() + 240
    while not (list(results_root.rglob("STS13.json")) and any(
            read_header(shard).rows > 1000 for shard in cache.rglob(f"*{SHARD_SUFFIX}"))):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never reached STS14"
        time.sleep(0.02)
    assert not list(results_root.rglob("STS15.json")), "the run finished before it could be interrupted"
    return process


def test_sigkill_mid_task_resumes_with_identical_results(tmp_path, tiny_bge, two_tasks):
    out = tmp_path / "killed"
    process = start_and_wait_until_inside_the_second_task(cli(tiny_bge, two_tasks, out), out)
    process.send_signal(signal.SIGKILL)
    process.wait()
    (results_dir,) = {p.parent for p in out.rglob("STS13.json")}
    assert not (results_dir / "STS15.json").exists(), "the killed run left a result file"
    first_sts13 = (results_dir / "STS13.json").stat().st_mtime_ns

    resumed = run(RunConfig(model=MODEL, model_path=tiny_bge, tasks=TASKS, data_dir=two_tasks,
                            output=out, device="cpu"))
    statuses = [o.status for o in resumed.outcomes]
    assert statuses[0] == "cached" and statuses[2] == "computed"  # STS14 was killed in, or had just finished
    assert (results_dir / "STS13.json").stat().st_mtime_ns == first_sts13
    assert not list(out.rglob("*.tmp")) and not (out / ".staging").exists()

    clean = run(RunConfig(model=MODEL, model_path=tiny_bge, tasks=TASKS, data_dir=two_tasks,
                          output=tmp_path / "clean", device="cpu"))
    for task in TASKS:
        assert scores(results_dir / f"{task}.json") == scores(clean.results_dir / f"{task}.json")


def test_ctrl_c_stops_cleanly_with_one_line(tmp_path, tiny_bge, two_tasks):
    out = tmp_path / "interrupted"
    process = start_and_wait_until_inside_the_second_task(cli(tiny_bge, two_tasks, out), out)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert not list(out.rglob("STS15.json")) and not (out / ".staging").exists()


def test_lock_stops_a_second_writer(tmp_path, tiny_bge, two_tasks):
    with output_lock(tmp_path / "out"), pytest.raises(BgeEvalError, match="another bge_eval run"):
        run(RunConfig(model=MODEL, model_path=tiny_bge, tasks=("STS13",), data_dir=two_tasks,
                      output=tmp_path / "out", device="cpu"))


def test_corrupt_result_is_reported_then_recomputed_with_overwrite(tmp_path, tiny_bge, two_tasks):
    config = RunConfig(model=MODEL, model_path=tiny_bge, tasks=("STS13",), data_dir=two_tasks,
                       output=tmp_path / "out", device="cpu")
    summary = run(config)
    path = summary.results_dir / "STS13.json"
    good = scores(path)
    path.write_text(path.read_text()[:100])  # truncated
    with pytest.raises(DataError, match=r"STS13.json: corrupt or truncated.*--overwrite"):
        run(config)
    run(RunConfig(**{**config.__dict__, "overwrite": True}))
    assert scores(path) == good


def test_two_cpu_runs_are_bitwise_identical(tmp_path, tiny_bge, two_tasks):
    """Each run with a fresh embedding cache of its own, so both encode every text themselves."""
    runs = [run(RunConfig(model=MODEL, model_path=tiny_bge, tasks=("STS13",), data_dir=two_tasks,
                          output=tmp_path / f"run{i}", device="cpu", embedding_cache=tmp_path / f"cache{i}"))
            for i in range(2)]
    assert scores(runs[0].results_dir / "STS13.json") == scores(runs[1].results_dir / "STS13.json")
    manifests = [json.loads((r.results_dir / "bge_eval_manifest.json").read_text()) for r in runs]
    assert manifests[0]["tasks"]["STS13"]["seed"] == 42
    for manifest in manifests:
        texts = manifest["tasks"]["STS13"]["texts"]
        assert texts["cached"] == 0 and texts["encoded"] == texts["distinct"] > 0


@pytest.mark.parametrize(
    "files,message",
    [
        ({"STS13/test.jsonl": "{broken\n"}, "STS13/test.jsonl:1: invalid JSON"),
        ({"STS13/test.jsonl": ""}, "STS13/test.jsonl: the file has no rows"),
        ({"STS13/test.jsonl": '{"sentence1": "a", "sentence2": "b", "score": 9}\n'}, "outside this task's range"),
        ({"STS13/other.jsonl": "{}\n"}, "STS13/test.jsonl: file not found"),
    ],
)
def test_bad_data_exits_2_and_writes_nothing(tmp_path, tiny_bge, capsys, files, message):
    for name, text in files.items():
        (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / name).write_text(text)
    code = main(["run", "--model", MODEL, "--model-path", str(tiny_bge), "--tasks", "STS13",
                 "--data-dir", str(tmp_path / "data"), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "out" / "results").exists()


def test_hub_data_without_network_fails_fast(tmp_path, tiny_bge, capsys, monkeypatch):
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    started = time.monotonic()
    code = main(["run", "--model", MODEL, "--model-path", str(tiny_bge), "--tasks", "SciFact",
                 "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "not reachable" in err and "--data-dir" in err
    assert time.monotonic() - started < 60
