"""CLS pooling reads one token of the last layer, so that layer is computed for that token alone
(its keys and values still span every token): the same vectors with about 7% less work for a
12-layer model. `build` checks it against the full model on a probe batch and keeps the full
model if they disagree.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

logger = logging.getLogger(__name__)

MODEL_TYPES = ("bert", "xlm-roberta")
PROBE_LENGTHS = (16, 9, 3)  # a probe batch with padding

# A transformers model or one of its layers, read by attribute (torch types those reads as Tensor | Module).
HFModule = Any


class ClsShortcut(torch.nn.Module):
    """The model's embeddings and all layers but the last, then the last layer for the CLS
    token only. forward gives the CLS vectors (B, H) in the model's dtype."""

    def __init__(self, model: HFModule) -> None:
        super().__init__()
        layers = model.encoder.layer
        self.last = layers[-1]
        model.encoder.layer = torch.nn.ModuleList(layers[:-1])
        model.pooler = None  # BERT's pooler head is not BGE's sentence vector
        self.base = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # a 4D mask (B, 1, 1, W), True where a key may be attended, goes to SDPA as given;
        # from a 2D mask transformers would first ask the device whether there is padding at
        # all, a wait for the device in every batch that keeps the host from running ahead
        keys = attention_mask[:, None, None, :].bool()
        hidden = self.base(input_ids=input_ids, attention_mask=keys).last_hidden_state
        return cls_of_last_layer(self.last, hidden, attention_mask)


def cls_of_last_layer(layer: HFModule, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """One BERT layer's output at position 0 (post-norm layer, eval mode, padded keys masked)."""
    attention = layer.attention.self
    rows, width, _ = hidden.shape
    heads, head_size = attention.num_attention_heads, attention.attention_head_size
    cls = hidden[:, :1]
    query = attention.query(cls).view(rows, 1, heads, head_size).transpose(1, 2)
    key = attention.key(hidden).view(rows, width, heads, head_size).transpose(1, 2)
    value = attention.value(hidden).view(rows, width, heads, head_size).transpose(1, 2)
    # one query: plain products (SDPA's CPU kernel splits these keys by thread count, so its
    # sums would differ between a 2-thread and a 1-thread worker); softmax in fp32
    scores = torch.matmul(query, key.transpose(-1, -2)).float() * head_size**-0.5
    padding = attention_mask[:, None, None, :] == 0
    weights = scores.masked_fill(padding, float("-inf")).softmax(dim=-1).to(value.dtype)
    context = torch.matmul(weights, value).transpose(1, 2).reshape(rows, 1, heads * head_size)
    attended = layer.attention.output(context, cls)
    return layer.output(layer.intermediate(attended), attended)[:, 0]


def applies(model: HFModule) -> bool:
    """A BERT-family encoder this module knows how to shorten."""
    config = model.config
    return (
        config.model_type in MODEL_TYPES
        and getattr(config, "position_embedding_type", "absolute") == "absolute"
        and not config.is_decoder
        and not getattr(config, "add_cross_attention", False)
        and len(getattr(getattr(model, "encoder", None), "layer", [])) >= 2
    )


def build(model: HFModule, device: torch.device) -> torch.nn.Module | None:
    """ClsShortcut around `model` when it applies and agrees with the full model on a probe
    batch; otherwise None, with `model` left as it was."""
    if not applies(model):
        return None
    input_ids, attention_mask = probe_batch(model, device)
    with torch.inference_mode():
        expected = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, 0].float()
    layers, pooler = model.encoder.layer, getattr(model, "pooler", None)
    shortcut = ClsShortcut(model)
    try:
        with torch.inference_mode():
            got = shortcut(input_ids, attention_mask).float()
        agrees = agrees_with(got, expected, model)
        problem = "disagrees with the full model"
    except Exception as exc:  # an unexpected layer layout: keep the full model
        agrees, problem = False, f"failed ({type(exc).__name__}: {exc})"
    if not agrees:
        model.encoder.layer, model.pooler = layers, pooler
        logger.warning("CLS shortcut %s on a probe batch; encoding with the full model", problem)
        return None
    return shortcut


def probe_batch(model: HFModule, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    width = max(PROBE_LENGTHS)
    input_ids = torch.randint(5, model.config.vocab_size, (len(PROBE_LENGTHS), width), generator=generator)
    attention_mask = (torch.arange(width)[None, :] < torch.tensor(PROBE_LENGTHS)[:, None]).long()
    return input_ids.to(device), attention_mask.to(device)


def agrees_with(got: torch.Tensor, expected: torch.Tensor, model: HFModule) -> bool:
    """Same shape and close: fp32 to rounding, half precision to its own resolution."""
    limit = 1e-4 if next(model.parameters()).dtype == torch.float32 else 2e-2
    return got.shape == expected.shape and bool(torch.allclose(got, expected, rtol=limit, atol=limit))
