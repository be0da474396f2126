"""One worker process per device over shares of the batches: results equal one device's.
Here with two CPU workers (the same code path as cuda:0 cuda:1)."""

import numpy as np
import pytest
import torch

from bge_eval.encoding.batching import plan_padded
from bge_eval.encoding.multi_device import resolve_devices, share_batches
from bge_eval.encoding.text_embedder import TextEmbedder
from bge_eval.errors import BgeEvalError
from bge_eval.models import resolve_model
from tests.helpers import assert_workers_exit_when_parent_killed

TEXTS = [("gamma delta " * (i % 23 + 1)).strip() + f" {i}" for i in range(200)]


def make(checkpoint, **kwargs):
    resolved = resolve_model("BAAI/bge-small-en-v1.5", model_path=checkpoint)
    return TextEmbedder(resolved.checkpoint, resolved.spec, **kwargs)


def test_share_batches_balances_padded_tokens_and_keeps_every_batch():
    ids = [[1] * n for n in range(1, 41)]
    batches = plan_padded(ids, range(40), max_rows=4, token_budget=None, multiple=1, pad_id=0)
    load = [0, 0, 0]
    shares = share_batches(batches, load)
    assert sorted(id(b) for s in shares for b in s) == sorted(id(b) for b in batches)
    loads = [sum(b.padded_tokens for b in s) for s in shares]
    assert loads == load and max(loads) - min(loads) <= max(b.padded_tokens for b in batches)


def test_small_chunks_are_shared_by_the_load_so_far():
    one_batch_chunks = [plan_padded([[1] * 8], [0], max_rows=1, token_budget=None, multiple=1, pad_id=0)] * 6
    load = [0, 0, 0]
    workers = [[i for i, share in enumerate(share_batches(chunk, load)) if share] for chunk in one_batch_chunks]
    assert workers == [[0], [1], [2], [0], [1], [2]] and load == [16, 16, 16]


def test_two_workers_equal_one_device(tiny_bge):
    single = make(tiny_bge, device="cpu", batch_size=8).embed(TEXTS)
    sharded_encoder = make(tiny_bge, devices=("cpu", "cpu"), batch_size=8)
    try:
        sharded = sharded_encoder.embed(TEXTS)
        again = sharded_encoder.embed(TEXTS[:50])  # the workers serve many calls
    finally:
        sharded_encoder.close()
    np.testing.assert_allclose(sharded, single, atol=1e-6)
    np.testing.assert_allclose(again, single[:50], atol=1e-6)
    assert not any(p.is_alive() for p in sharded_encoder.engine.processes)


def test_one_listed_device_encodes_in_process(tiny_bge):
    from bge_eval.encoding.engine import ForwardEngine

    assert isinstance(make(tiny_bge, devices=("cpu",)).engine, ForwardEngine)


def test_run_on_two_workers_gives_the_same_scores(scifact_subset, tiny_bge, tmp_path):
    import json

    from bge_eval.config import RunConfig
    from bge_eval.run.runner import run

    scores = {}
    for name, placement in {"one": {"device": "cpu"}, "two": {"devices": ("cpu", "cpu")}}.items():
        summary = run(RunConfig(model="BAAI/bge-small-en-v1.5", model_path=tiny_bge, tasks=("SciFact",),
                                data_dir=scifact_subset, output=tmp_path / name, embedding_cache=None,
                                **placement))
        result = json.loads((summary.results_dir / "SciFact.json").read_text())
        scores[name] = result["scores"]["test"][0]
    for metric in ("ndcg_at_10", "map_at_100", "recall_at_100"):
        assert scores["two"][metric] == pytest.approx(scores["one"][metric], abs=1e-6)


def test_a_failing_worker_is_a_clear_error(tmp_path):
    from bge_eval.encoding.engine import ForwardSettings
    from bge_eval.encoding.multi_device import ShardedEngine

    settings = ForwardSettings(checkpoint=str(tmp_path / "missing"), pooling="cls",
                               device="cpu", precision="fp32", pad_id=0, pad_multiple=1)
    with pytest.raises(BgeEvalError, match="encoder worker on cpu failed"):
        ShardedEngine(settings, ["cpu", "cpu"])


def test_device_names_are_checked():
    with pytest.raises(BgeEvalError, match="--devices tpu"):
        resolve_devices(["cpu", "tpu"])
    assert resolve_devices(["cpu", "cpu"]) == ["cpu", "cpu"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message; this machine has CUDA")
def test_cuda_devices_without_cuda_are_a_clear_error():
    with pytest.raises(BgeEvalError, match="--devices all: no CUDA device"):
        resolve_devices(["all"])
    with pytest.raises(BgeEvalError, match="--devices cuda:0: CUDA is not available"):
        resolve_devices(["cuda:0", "cuda:1"])


def test_workers_exit_when_the_run_is_killed(tiny_bge, tmp_path):
    """A SIGKILLed run must not leave workers holding the devices."""
    assert_workers_exit_when_parent_killed(tmp_path / "hold.py", (
        "import sys\n"
        "from bge_eval.encoding.text_embedder import TextEmbedder\n"
        "from bge_eval.models import resolve_model\n"
        "if __name__ == '__main__':\n"
        f"    spec = resolve_model('BAAI/bge-small-en-v1.5', model_path={str(tiny_bge)!r}).spec\n"
        f"    e = TextEmbedder({str(tiny_bge)!r}, spec, devices=('cpu', 'cpu'))\n"
        "    print(' '.join(str(p.pid) for p in e.engine.processes), flush=True)\n"))
