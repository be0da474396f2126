"""bisect over 9 checkpoints of a tiny random BGE-shaped model, in training order, on STSBenchmark's
first 300 pairs (a card): steps 0-4 are the model with weight noise of 0.1% of each tensor's spread,
steps 5-8 the same with their word embeddings zeroed (a planted regression: Spearman 0.46 -> 0.07).
It must name step 5 in at most 5 evaluations, say why each was made, and resume after kill -9."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from bge_eval.cli import main
from tests.conftest import build_bge_from_nothing
from tests.helpers import write_jsonl

MODEL = "BAAI/bge-small-en-v1.5"  # the identity: BGE's recipe (CLS pooling) on the tiny checkpoints
FIRST_BAD = 5


@pytest.fixture(scope="module")
def checkpoints(shared_data, tmp_path_factory):
    import torch
    from safetensors.torch import load_file, save_file

    root = tmp_path_factory.mktemp("bisect")
    base = build_bge_from_nothing(root / "base")
    for step in range(9):
        folder = shutil.copytree(base, root / f"step-{step}")
        generator = torch.Generator().manual_seed(step)
        weights = {}
        for name, tensor in load_file(folder / "model.safetensors").items():
            if tensor.is_floating_point() and tensor.numel() > 1:
                tensor = tensor + 1e-3 * tensor.std() * torch.randn(tensor.shape, generator=generator)
            if step >= FIRST_BAD and "word_embeddings" in name:
                tensor = torch.zeros_like(tensor)
            weights[name] = tensor.contiguous()
        save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    rows = [json.loads(line) for line in (shared_data / "STSBenchmark" / "test.jsonl").read_text().splitlines()]
    card = root / "BisectSTS"
    write_jsonl(card / "test.jsonl", rows[:300])
    (card / "task.toml").write_text('name = "BisectSTS"\ntype = "STS"\nlanguage = "eng"\nscore_range = [0, 5]\n')
    return root


def models_file(root, steps, name="models.toml"):
    path = root / name
    path.write_text("".join(f'[[model]]\nname = "{MODEL}"\npath = "step-{s}"\nrevision = "step-{s}"\n\n'
                            for s in steps))
    return path


def arguments(root, models, output):
    return ["bisect", "--models", str(models), "--tasks", str(root / "BisectSTS"), "--output", str(output),
            "--device", "cpu", "--no-embedding-cache", "--no-progress"]


def test_bisect_names_the_first_regressed_checkpoint_in_five_evaluations(checkpoints, tmp_path, capsys):
    output = tmp_path / "out"
    assert main(arguments(checkpoints, models_file(checkpoints, range(9)), output)) == 1
    printed = capsys.readouterr().out
    assert f"first regressed checkpoint: #{FIRST_BAD} {MODEL}@step-{FIRST_BAD}" in printed
    assert "the last that holds: #4" in printed and "5 of 9 checkpoints evaluated" in printed
    written = json.loads((output / "bisect.json").read_text())
    assert written["first_regressed"] == FIRST_BAD and written["last_holding"] == FIRST_BAD - 1
    evaluated = [e["index"] for e in written["evaluations"]]
    assert evaluated == [0, 8, 4, 6, 5]  # first and last, then halves
    assert written["evaluations"][2]["why"] == "halfway between #0 (holds) and #8 (regressed)"
    for evaluation in written["evaluations"][1:]:
        (task,) = evaluation["tasks"]
        assert task["regressed"] == (evaluation["index"] >= FIRST_BAD)
        assert task["regressed"] == (task["p_value"] < 0.05 and task["value"] < task["first"] - 0.005)
    # every evaluation is an ordinary result: bisecting again reuses all five, computes nothing
    assert main(arguments(checkpoints, models_file(checkpoints, range(9)), output)) == 1
    again = json.loads((output / "bisect.json").read_text())
    assert [e["index"] for e in again["evaluations"]] == evaluated and all(e["reused"] for e in again["evaluations"])


def test_no_regression_between_first_and_last_is_exit_0(checkpoints, tmp_path, capsys):
    assert main(arguments(checkpoints, models_file(checkpoints, [0, 2, 3]), tmp_path / "out")) == 0
    assert "no regression: the last checkpoint holds against the first (2 of 3 checkpoints evaluated)" in \
        capsys.readouterr().out


def test_bisect_killed_midway_resumes_from_its_finished_evaluations(checkpoints, tmp_path):
    output = tmp_path / "out"
    command = [sys.executable, "-m", "bge_eval", *arguments(checkpoints, models_file(checkpoints, range(9)), output)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = output / "results" / MODEL.replace("/", "__") / "step-8" / "BisectSTS.json"
    deadline = time.monotonic() + 300
    while not last.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)  # the first round (steps 0 and 8) is saved; the halving has begun
    child.wait()
    assert last.exists() and not (output / "bisect.json").exists()
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 1, rerun.stderr
    assert f"first regressed checkpoint: #{FIRST_BAD}" in rerun.stdout
    written = json.loads((output / "bisect.json").read_text())
    assert [e["index"] for e in written["evaluations"]] == [0, 8, 4, 6, 5]
    assert written["evaluations"][0]["reused"] and written["evaluations"][1]["reused"]


def test_one_checkpoint_or_no_models_file_is_refused(checkpoints, tmp_path, capsys):
    assert main(arguments(checkpoints, models_file(checkpoints, [0], "one.toml"), tmp_path / "out")) == 2
    assert "list at least two in --models" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["bisect", "--tasks", str(checkpoints / "BisectSTS")])
    assert refused.value.code == 2 and "--models FILE" in capsys.readouterr().err
