"""Packed tokens (no padding computed): the same vectors as the padded full model, for BERT and
XLM-RoBERTa, CLS and mean pooling; the padded model wherever packing does not apply or
disagrees. On CPU attention runs text by text (reference_attend); FlashAttention's kernel,
CUDA only, is checked by build's probe and by the GPU benchmark's fp32 reference."""

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

from bge_eval.encoding.fast import packed_bert
from bge_eval.encoding.settings import PipelineSettings
from bge_eval.encoding.text_embedder import TextEmbedder
from bge_eval.models import resolve_model
from tests.encoding.test_cls_shortcut import TEXTS, batch, tiny_xlm_roberta

CPU = torch.device("cpu")


def tiny_bert():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=500, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=64)
    return BertModel(config, add_pooling_layer=False).eval()


def padded_pooled(model, ids, mask, pooling):
    with torch.inference_mode():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    if pooling == "cls":
        return hidden[:, 0]
    return (hidden * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True)


def packed_pooled(packed, ids, mask):
    arrays = packed_bert.pack(ids.numpy().astype(np.int32), mask.sum(dim=1).numpy().astype(np.int32))
    with torch.inference_mode():
        return packed(torch.from_numpy(arrays.data), arrays.tokens, arrays.texts, arrays.longest)


def test_pack_lays_real_tokens_end_to_end():
    ids = np.array([[5, 6, 7], [8, 0, 0], [9, 10, 0]], dtype=np.int32)
    arrays = packed_bert.pack(ids, np.array([3, 1, 2], dtype=np.int32))
    assert (arrays.tokens, arrays.texts, arrays.longest) == (6, 3, 3)
    token_ids, positions, texts, starts = np.split(arrays.data, [6, 12, 18])
    assert token_ids.tolist() == [5, 6, 7, 8, 9, 10]
    assert positions.tolist() == [0, 1, 2, 0, 0, 1]
    assert texts.tolist() == [0, 0, 0, 1, 2, 2]
    assert starts.tolist() == [0, 3, 4, 6]
    assert arrays.data.dtype == np.int32


@pytest.mark.parametrize("make_model", [tiny_bert, tiny_xlm_roberta], ids=["bert", "xlm-roberta"])
@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_packed_equals_the_padded_full_model(make_model, pooling):
    model = make_model()
    ids, mask = batch(model.config.vocab_size, lengths=(20, 7, 13, 1, 20))
    packed = packed_bert.build(model, CPU, pooling, attend=packed_bert.reference_attend)
    assert packed is not None
    torch.testing.assert_close(packed_pooled(packed, ids, mask), padded_pooled(model, ids, mask, pooling),
                               atol=1e-5, rtol=1e-5)


def test_not_built_without_flash_attention_or_for_other_pooling():
    model = tiny_bert()
    assert packed_bert.build(model, CPU, "cls") is None  # FlashAttention's kernel: CUDA, half precision
    assert packed_bert.build(model, CPU, "lasttoken", attend=packed_bert.reference_attend) is None


def test_a_disagreeing_packed_model_is_not_used(monkeypatch, caplog):
    model = tiny_bert()
    # as if a transformers release changed what a layer's modules compute
    monkeypatch.setattr(packed_bert.PackedLayer, "dense_after_attention", lambda self, context, residual: residual)
    assert packed_bert.build(model, CPU, "cls", attend=packed_bert.reference_attend) is None
    assert "packed encoder disagrees with the full model" in caplog.text


def test_a_failing_attention_kernel_is_not_used(caplog):
    def failing(*args):
        raise RuntimeError("FlashAttention only supports Ampere GPUs or newer")

    assert packed_bert.build(tiny_bert(), CPU, "cls", attend=failing) is None
    assert "packed encoder failed (RuntimeError: FlashAttention only supports" in caplog.text


@pytest.fixture
def packed_on_cpu(monkeypatch):
    """The engine's packed path on CPU: text-by-text attention stands in for FlashAttention."""
    monkeypatch.setattr(packed_bert, "flash_available", lambda device, dtype: True)
    monkeypatch.setattr(packed_bert, "flash_attend", packed_bert.reference_attend)


def test_the_engine_encodes_packed_batches_as_the_padded_engine(bge_base_random, packed_on_cpu):
    resolved = resolve_model("BAAI/bge-base-en-v1.5", model_path=bge_base_random)
    encoders = [TextEmbedder(resolved.checkpoint, resolved.spec, device="cpu", batch_size=16, packed=packed)
                for packed in (True, False)]
    assert encoders[0].engine.packed is not None and encoders[1].engine.packed is None
    # packed batches compute no padding: chunks are planned without rows kept back for the next
    assert [encoder.batch_plan.keep_back for encoder in encoders] == [False, True]
    packed, padded = (encoder.embed(TEXTS) for encoder in encoders)
    np.testing.assert_allclose(packed, padded, atol=2e-6)
    np.testing.assert_allclose(np.linalg.norm(packed, axis=1), 1.0, atol=1e-6)


def test_out_of_memory_back_off_on_packed_batches(tiny_bge, packed_on_cpu, monkeypatch):
    resolved = resolve_model("BAAI/bge-small-en-v1.5", model_path=tiny_bge)
    encoder = TextEmbedder(resolved.checkpoint, resolved.spec, device="cpu", batch_size=64,
                           pipeline=PipelineSettings(first_chunk_texts=128))  # batches of 64 texts: halved twice
    expected = encoder.embed(TEXTS)
    forward, calls = packed_bert.PackedBert.forward, []

    def failing_wide(self, packed, tokens, texts, longest):
        calls.append(texts)
        if texts > 16:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(self, packed, tokens, texts, longest)

    monkeypatch.setattr(packed_bert.PackedBert, "forward", failing_wide)
    np.testing.assert_allclose(encoder.embed(TEXTS), expected, atol=1e-6)
    assert encoder.oom_retries >= 2 and max(calls) > 16 and calls[-1] <= 16


def test_compiled_dense_layers_give_the_same_vectors():
    """compile_dense: one graph for every layer and token count (shapes are dynamic)."""
    model = tiny_bert()
    packed = packed_bert.build(model, CPU, "cls", attend=packed_bert.reference_attend)
    widths = [(20, 7, 13, 1), (5, 3), (30, 30, 2, 9, 4, 11)]
    expected = [packed_pooled(packed, *batch(500, lengths)) for lengths in widths]
    packed.compile_dense()
    for lengths, want in zip(widths, expected, strict=True):
        torch.testing.assert_close(packed_pooled(packed, *batch(500, lengths)), want, atol=1e-5, rtol=1e-5)


def test_padded_option_reaches_the_engine(bge_base_random, packed_on_cpu):
    from bge_eval.api import make_config
    from bge_eval.cli import build_parser, run_options
    from bge_eval.cli_options import single
    from bge_eval.encoding.mteb_encoder import BgeEncoder

    parser = build_parser()
    for argv, packs in ((["--padded"], False), ([], True)):
        args = parser.parse_args(["run", "--model", "BAAI/bge-base-en-v1.5", "--model-path", str(bge_base_random),
                                  "--device", "cpu", *argv])
        config = make_config(single(args.model), args.tasks, args.benchmark, **run_options(args, parser))
        encoder = BgeEncoder.from_config(config)
        assert config.packed is packs and encoder.embedder.engine.packs is packs
        assert encoder.encoder_facts().packed is packs
