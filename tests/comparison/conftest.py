"""The two real runs the compare tests read: all-MiniLM-L6-v2 and a copy of it with noise added to
every weight, on SciFact (cut to 60 queries), STSBenchmark's first 300 pairs and ten Banking77
intents (cards)."""

from __future__ import annotations

import shutil

import pytest

from bge_eval.comparison import compare_sides, pick_side
from bge_eval.config import RunConfig
from bge_eval.run.runner import run
from tests.helpers import MINILM, sts_and_intent_cards


@pytest.fixture(scope="module")
def cards(shared_data, tmp_path_factory):
    return sts_and_intent_cards(tmp_path_factory.mktemp("compare-cards"), shared_data, "Compare")


@pytest.fixture(scope="module")
def perturbed_minilm(minilm_path, tmp_path_factory):
    """MiniLM with Gaussian noise of 20% of each weight tensor's spread added (seeded)."""
    import torch
    from safetensors.torch import load_file, save_file

    folder = tmp_path_factory.mktemp("perturbed") / "minilm"
    shutil.copytree(minilm_path, folder)
    weights = load_file(folder / "model.safetensors")
    generator = torch.Generator().manual_seed(0)
    noisy = {name: (w + 0.2 * w.float().std() * torch.randn(w.shape, generator=generator)).to(w.dtype)
             if w.is_floating_point() and w.numel() > 1 else w for name, w in weights.items()}
    save_file(noisy, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


@pytest.fixture(scope="module")
def runs(cards, scifact_subset, perturbed_minilm, tmp_path_factory):
    folders = []
    for name, path in (("base", None), ("new", perturbed_minilm)):
        out = tmp_path_factory.mktemp(name)
        run(RunConfig(model=MINILM, model_path=path, tasks=("SciFact", *cards), data_dir=scifact_subset,
                      output=out, device="cpu", embedding_cache=False))
        folders.append(out)
    return folders


@pytest.fixture(scope="module")
def comparison(runs):
    base, new = (pick_side(folder, None, "--model") for folder in runs)
    return compare_sides(base, new)
