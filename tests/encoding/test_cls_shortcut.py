"""CLS pooling computes the last layer for the CLS token only: same vectors as the full model,
used for BGE's BERT and XLM-RoBERTa encoders, and the full model wherever it does not apply."""

import numpy as np
import pytest
import torch

from bge_eval.encoding.fast import cls_shortcut
from bge_eval.encoding.text_embedder import TextEmbedder
from bge_eval.models import resolve_model

TEXTS = [("kappa lambda " * (i % 37 + 1)).strip() + f" {i}" for i in range(120)]


def embedder(checkpoint, **kwargs):
    resolved = resolve_model("BAAI/bge-base-en-v1.5", model_path=checkpoint)
    return TextEmbedder(resolved.checkpoint, resolved.spec, device="cpu", batch_size=16, **kwargs)


def full_model_vectors(checkpoint) -> np.ndarray:
    encoder = embedder(checkpoint, cls_shortcut=False)
    assert not encoder.engine.gives_cls
    return encoder.embed(TEXTS)


def test_bge_base_shortcut_equals_the_full_model(bge_base_random):
    encoder = embedder(bge_base_random)
    assert encoder.engine.gives_cls  # bge-base's configuration takes the shortcut
    assert len(encoder.engine.model.base.encoder.layer) == 11
    shortened = encoder.embed(TEXTS)
    np.testing.assert_allclose(shortened, full_model_vectors(bge_base_random), atol=1e-6)


def test_shortcut_never_asks_the_device_whether_a_batch_has_padding(tiny_bge, monkeypatch):
    """From a 2D mask transformers checks its values (a host-device wait per batch on GPU);
    the shortcut hands over a 4D mask, which is used as given."""
    from transformers import masking_utils

    encoder = embedder(tiny_bge)
    assert encoder.engine.gives_cls
    expected = encoder.embed(TEXTS)

    def inspected(*args, **kwargs):
        raise AssertionError("the mask's values were inspected")

    monkeypatch.setattr(masking_utils, "_ignore_bidirectional_mask_sdpa", inspected)
    np.testing.assert_array_equal(encoder.embed(TEXTS), expected)
    with pytest.raises(AssertionError, match="inspected"):  # the check above can fail: the full model does inspect
        embedder(tiny_bge, cls_shortcut=False).embed(TEXTS[:4])


def test_shortcut_is_the_same_for_any_thread_count(tiny_bge):
    """Workers of --devices cpu cpu run with fewer threads than one process: same bits."""
    encoder = embedder(tiny_bge)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = encoder.embed(TEXTS)
        torch.set_num_threads(max(2, threads))
        more = encoder.embed(TEXTS)
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(one, more)


def tiny_xlm_roberta():
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=500, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                              intermediate_size=128, max_position_embeddings=64, pad_token_id=1)
    return XLMRobertaModel(config).eval()


def batch(vocab_size: int, lengths=(20, 7, 13, 1)):
    generator = torch.Generator().manual_seed(1)
    width = max(lengths)
    ids = torch.randint(3, vocab_size, (len(lengths), width), generator=generator)
    mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()
    return ids, mask


def test_xlm_roberta_shortcut_equals_the_full_model():
    """bge-m3 and the bge-reranker encoders are XLM-RoBERTa."""
    model = tiny_xlm_roberta()
    ids, mask = batch(model.config.vocab_size)
    with torch.inference_mode():
        expected = model(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0]
    shortcut = cls_shortcut.build(model, torch.device("cpu"))
    assert shortcut is not None
    with torch.inference_mode():
        torch.testing.assert_close(shortcut(ids, mask), expected, atol=1e-6, rtol=1e-5)


def test_a_disagreeing_shortcut_leaves_the_full_model(monkeypatch, caplog):
    model = tiny_xlm_roberta()
    ids, mask = batch(model.config.vocab_size)
    with torch.inference_mode():
        expected = model(input_ids=ids, attention_mask=mask).last_hidden_state
    # as if a transformers release changed the layer's internals
    monkeypatch.setattr(cls_shortcut, "cls_of_last_layer", lambda layer, hidden, mask: hidden[:, 0] * 2)
    assert cls_shortcut.build(model, torch.device("cpu")) is None
    assert "CLS shortcut disagrees with the full model" in caplog.text
    assert len(model.encoder.layer) == 3 and model.pooler is not None
    with torch.inference_mode():
        torch.testing.assert_close(model(input_ids=ids, attention_mask=mask).last_hidden_state, expected)


def test_a_failing_shortcut_leaves_the_full_model(monkeypatch, caplog):
    model = tiny_xlm_roberta()

    def broken(layer, hidden, mask):
        raise AttributeError("no attribute 'query'")

    monkeypatch.setattr(cls_shortcut, "cls_of_last_layer", broken)
    assert cls_shortcut.build(model, torch.device("cpu")) is None
    assert "CLS shortcut failed (AttributeError: no attribute 'query')" in caplog.text
    assert len(model.encoder.layer) == 3


@pytest.mark.parametrize("override", [{"position_embedding_type": "relative_key"}, {"is_decoder": True}])
def test_not_applied_where_the_layer_differs(override):
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, **override)
    assert not cls_shortcut.applies(BertModel(config))


def test_mean_pooling_runs_the_full_model(minilm_path):
    resolved = resolve_model("sentence-transformers/all-MiniLM-L6-v2", model_path=minilm_path)
    encoder = TextEmbedder(resolved.checkpoint, resolved.spec, device="cpu")
    assert resolved.spec.pooling == "mean" and not encoder.engine.gives_cls
    assert len(encoder.engine.model.encoder.layer) == 6
