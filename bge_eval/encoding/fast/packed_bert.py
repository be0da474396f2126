"""BERT-family encoders on packed tokens: a batch's texts laid end to end, no padding computed,
attention per text through FlashAttention's variable-length kernel (CUDA, fp16 / bf16).

Re-assembled from the model's own modules and weights; `build` checks it against the full
model on a probe batch and gives None when they disagree (then the padded model runs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .cls_shortcut import agrees_with, applies, probe_batch

logger = logging.getLogger(__name__)

POOLINGS = ("cls", "mean")
# attend(query, key, value, query_starts, key_starts, longest_query, longest_key, scale) -> (Tq, heads, head_size)
Attend = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int, int, float],
                  torch.Tensor]


@dataclass(frozen=True)
class PackedArrays:
    """A padded batch's real tokens end to end, as one int32 array for one host-to-device copy:
    token ids (T), positions in their text (T), each token's text (T), then the texts'
    starts and the end (B + 1)."""

    data: np.ndarray
    tokens: int
    texts: int
    longest: int

# A transformers model or one of its layers, read by attribute (torch types those reads as Tensor | Module).
HFModule = Any


def pack(input_ids: np.ndarray, lengths: np.ndarray) -> PackedArrays:
    """The real tokens of right-padded input_ids (B, W) with their lengths (B)."""
    real = np.arange(input_ids.shape[1])[None, :] < lengths[:, None]
    text_of_token, positions = np.nonzero(real)  # row-major: each text's tokens in order
    starts = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=starts[1:])
    data = np.concatenate([input_ids[real], positions, text_of_token, starts]).astype(np.int32, copy=False)
    return PackedArrays(data, int(starts[-1]), len(lengths), int(lengths.max()))


def flash_attend(query, key, value, query_starts, key_starts, longest_query, longest_key, scale):
    """FlashAttention over variable-length texts (CUDA, half precision)."""
    return torch.ops.aten._flash_attention_forward(
        query, key, value, query_starts, key_starts, longest_query, longest_key, 0.0, False, False, scale=scale)[0]


def reference_attend(query, key, value, query_starts, key_starts, longest_query, longest_key, scale):
    """The same result text by text with plain products (any device: tests on CPU)."""
    out = torch.empty_like(query)
    q_bounds, k_bounds = query_starts.tolist(), key_starts.tolist()
    for text in range(len(q_bounds) - 1):
        q0, q1, k0, k1 = q_bounds[text], q_bounds[text + 1], k_bounds[text], k_bounds[text + 1]
        q, k, v = (t.transpose(0, 1).float() for t in (query[q0:q1], key[k0:k1], value[k0:k1]))
        weights = (torch.matmul(q, k.transpose(-1, -2)) * scale).softmax(dim=-1)
        out[q0:q1] = torch.matmul(weights, v).transpose(0, 1).to(out.dtype)
    return out


class PackedLayer(torch.nn.Module):
    """One post-norm BERT layer on packed tokens; `dense_after_attention` is what compile fuses."""

    def __init__(self, layer: HFModule) -> None:
        super().__init__()
        attention = layer.attention.self
        self.heads, self.head_size = attention.num_attention_heads, attention.attention_head_size
        projections = (attention.query, attention.key, attention.value)
        self.qkv = torch.nn.Linear(projections[0].in_features, 3 * self.heads * self.head_size,
                                   device=projections[0].weight.device, dtype=projections[0].weight.dtype)
        with torch.no_grad():
            self.qkv.weight.copy_(torch.cat([p.weight for p in projections]))
            self.qkv.bias.copy_(torch.cat([p.bias for p in projections]))
        self.attention_output = layer.attention.output  # dense, then LayerNorm(x + residual)
        self.intermediate = layer.intermediate  # dense, then the activation
        self.output = layer.output  # dense, then LayerNorm(x + residual)

    def dense_after_attention(self, context: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        attended = self.attention_output(context, residual)
        return self.output(self.intermediate(attended), attended)

    def forward(self, hidden: torch.Tensor, starts: torch.Tensor, longest: int, attend: Attend,
                query_rows: torch.Tensor | None = None, query_starts: torch.Tensor | None = None) -> torch.Tensor:
        """The layer's output for every token, or for query_rows alone (their keys and values
        still span every token; query_starts: their texts' bounds, one row each)."""
        tokens, width = hidden.shape[0], self.heads * self.head_size
        qkv = self.qkv(hidden).view(tokens, 3, self.heads, self.head_size)
        query, key, value = qkv.unbind(dim=1)
        residual, longest_query = hidden, longest
        if query_rows is not None:
            assert query_starts is not None  # given together with query_rows
            query, residual, starts_q, longest_query = query[query_rows], hidden[query_rows], query_starts, 1
        else:
            starts_q = starts
        context = attend(query, key, value, starts_q, starts, longest_query, longest, self.head_size**-0.5)
        return self.dense_after_attention(context.reshape(-1, width), residual)


class PackedBert(torch.nn.Module):
    """A BERT-family encoder over PackedArrays; forward gives pooled vectors (B, H) in the
    model's dtype."""

    def __init__(self, model: HFModule, pooling: str, attend: Attend) -> None:
        super().__init__()
        embeddings = model.embeddings
        self.word_embeddings = embeddings.word_embeddings
        self.position_embeddings = embeddings.position_embeddings
        self.token_type = embeddings.token_type_embeddings.weight[0].detach()  # every token is of type 0
        self.embedding_norm = embeddings.LayerNorm
        # XLM-RoBERTa counts positions from after its padding id
        self.position_offset = model.config.pad_token_id + 1 if model.config.model_type == "xlm-roberta" else 0
        self.layers = torch.nn.ModuleList(PackedLayer(layer) for layer in model.encoder.layer)
        self.pooling = pooling
        self.attend = attend

    def compile_dense(self) -> None:
        """torch.compile each layer's dense part (products, bias, activation, residual, norm
        fused); attention stays as it is. Token counts vary, so shapes are dynamic."""
        for layer in self.layers:
            packed_layer: Any = layer
            packed_layer.dense_after_attention = torch.compile(packed_layer.dense_after_attention, dynamic=True)

    def forward(self, packed: torch.Tensor, tokens: int, texts: int, longest: int) -> torch.Tensor:
        """packed: PackedArrays.data on the device."""
        token_ids, positions = packed[:tokens], packed[tokens : 2 * tokens]
        text_of_token, starts = packed[2 * tokens : 3 * tokens], packed[3 * tokens :]
        hidden = self.word_embeddings(token_ids) + self.token_type
        hidden = self.embedding_norm(hidden + self.position_embeddings(positions + self.position_offset))
        last = len(self.layers) - 1
        for layer in self.layers[:last] if self.pooling == "cls" else self.layers:
            hidden = layer(hidden, starts, longest, self.attend)
        if self.pooling == "cls":  # the last layer for each text's first token only
            one_each = torch.arange(texts + 1, device=packed.device, dtype=torch.int32)
            return self.layers[last](hidden, starts, longest, self.attend, starts[:-1], one_each)
        sums = torch.zeros(texts, hidden.shape[1], device=hidden.device, dtype=torch.float32)
        sums.index_add_(0, text_of_token, hidden.float())
        return (sums / (starts[1:] - starts[:-1]).unsqueeze(1)).to(hidden.dtype)


def flash_available(device: torch.device, dtype: torch.dtype) -> bool:
    """FlashAttention's kernel: CUDA, fp16 / bf16 (a torch build without it says so)."""
    built_with = getattr(torch.backends.cuda, "is_flash_attention_available", lambda: True)
    return device.type == "cuda" and dtype in (torch.float16, torch.bfloat16) and built_with()


def build(model: HFModule, device: torch.device, pooling: str,
          attend: Attend | None = None) -> PackedBert | None:
    """PackedBert over `model` when it applies and agrees with the full model on a probe
    batch; else None. attend: FlashAttention by default (CUDA, half precision only)."""
    dtype = next(model.parameters()).dtype
    if attend is None:
        attend = flash_attend if flash_available(device, dtype) else None
    if attend is None or pooling not in POOLINGS or not applies(model):
        return None
    input_ids, attention_mask = probe_batch(model, device)
    try:
        packed = PackedBert(model, pooling, attend)
        with torch.inference_mode():
            hidden = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.float()
            if pooling == "cls":
                expected = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).float()
                expected = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
            arrays = pack(input_ids.cpu().numpy(), attention_mask.sum(dim=1).cpu().numpy())
            got = packed(torch.from_numpy(arrays.data).to(device), arrays.tokens, arrays.texts, arrays.longest).float()
        agrees = agrees_with(got, expected, model)
        problem = "disagrees with the full model"
    except Exception as exc:  # an unexpected layer layout or kernel: keep the padded model
        agrees, problem = False, f"failed ({type(exc).__name__}: {exc})"
    if not agrees:
        logger.warning("packed encoder %s on a probe batch; encoding padded batches", problem)
        return None
    return packed
