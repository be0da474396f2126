"""The adapter against the model card's transformers recipe, and its batching."""

import numpy as np
import pytest
import torch

from bge_eval.encoding.engine import pool
from bge_eval.encoding.mteb_encoder import BgeEncoder
from bge_eval.models import mteb_meta, resolve_model
from bge_eval.models.recipe import Recipe

TEXTS = [
    "What is the capital of France?",
    "Paris is the capital and most populous city of France, on the Seine.",
    "short",
    "A much longer passage " * 40,  # exercises truncation at 512 tokens
    "为这个句子生成表示以用于检索相关文章：",
    "",
]


def make_encoder(name, path, policy="bge", batch_size=2):
    resolved = resolve_model(name, model_path=path)
    recipe = Recipe(policy, resolved.spec)
    return BgeEncoder(resolved, recipe, mteb_meta(resolved), device="cpu", batch_size=batch_size)


def model_card_recipe(path, texts):
    """The BGE model card's transformers usage: CLS vector of the last hidden state, L2-normalised."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModel.from_pretrained(str(path)).eval()
    encoded = tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
    with torch.no_grad():
        cls = model(**encoded)[0][:, 0]
    return torch.nn.functional.normalize(cls, p=2, dim=1).numpy()


def test_bge_base_adapter_equals_model_card_recipe(bge_base_random):
    encoder = make_encoder("BAAI/bge-base-en-v1.5", bge_base_random)
    ours = encoder.embed(TEXTS)
    reference = model_card_recipe(bge_base_random, TEXTS)
    assert ours.shape == (len(TEXTS), 768) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_minilm_adapter_equals_sentence_transformers(minilm_path):
    from sentence_transformers import SentenceTransformer

    encoder = make_encoder("sentence-transformers/all-MiniLM-L6-v2", minilm_path)
    reference = SentenceTransformer(str(minilm_path), device="cpu").encode(TEXTS, convert_to_numpy=True)
    np.testing.assert_allclose(encoder.embed(TEXTS), reference, atol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_batching_and_order_do_not_change_embeddings(tiny_bge, batch_size):
    encoder = make_encoder("BAAI/bge-small-en-v1.5", tiny_bge, batch_size=batch_size)
    one_by_one = np.stack([encoder.embed([t])[0] for t in TEXTS])
    np.testing.assert_allclose(encoder.embed(TEXTS), one_by_one, atol=1e-5)


def test_empty_input(tiny_bge):
    assert make_encoder("BAAI/bge-small-en-v1.5", tiny_bge).embed([]).shape == (0, 64)


def test_pooling_by_hand():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]], [[5.0, 6.0], [7.0, 8.0], [1.0, 1.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert pool(hidden, mask, "cls").tolist() == [[1.0, 2.0], [5.0, 6.0]]
    assert pool(hidden, mask, "mean").tolist() == [[2.0, 3.0], pytest.approx([13 / 3, 5.0])]
    assert pool(hidden, mask, "lasttoken").tolist() == [[3.0, 4.0], [1.0, 1.0]]
