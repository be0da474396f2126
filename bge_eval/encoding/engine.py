"""The model on one device: padded batches in, pooled (and L2-normalised) fp32 vectors out.

A chunk's batches are launched back to back and its vectors come home in one copy queued behind
them, the next chunk launched before the host waits; out of memory halves the batch budget and
re-plans the unfinished batches (docs/performance.md). ForwardSettings is a plain value, so a
worker process can build the same engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import BgeEvalError
from .batching import PaddedBatch, plan_padded, unpad
from .fast import cls_shortcut, packed_bert

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def pick_device(device: str | None) -> torch.device:
    """The requested device, or CUDA when present, else CPU."""
    if device:
        try:
            chosen = torch.device(device)
        except (RuntimeError, ValueError):
            raise BgeEvalError(f"--device {device}: expected cpu, cuda or cuda:N.") from None
        if chosen.type not in ("cpu", "cuda"):
            raise BgeEvalError(f"--device {device}: expected cpu, cuda or cuda:N.")
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise BgeEvalError(f"--device {device}: CUDA is not available here; use --device cpu.")
        if chosen.type == "cuda" and (chosen.index or 0) >= torch.cuda.device_count():
            raise BgeEvalError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) are visible.")
        return chosen
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(precision: str, device: torch.device) -> torch.dtype:
    """auto: fp16 on CUDA, fp32 on CPU (half precision on CPU is slow and lossy)."""
    if precision == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    return DTYPES[precision]


def precision_name(dtype: torch.dtype) -> str:
    return next(name for name, value in DTYPES.items() if value == dtype)


def precision_for(precision: str, device: str | None) -> str:
    """The precision a run will encode in ("fp16" for auto on CUDA, ...), without loading a model."""
    return precision_name(pick_dtype(precision, pick_device(device)))


@dataclass(frozen=True)
class ForwardSettings:
    """Everything needed to build a ForwardEngine, in plain values.

    precision: fp32 / fp16 / bf16 (already resolved from "auto").
    pad_multiple: batch widths are padded to a multiple of this (8 on CUDA, for tensor cores)."""

    checkpoint: str
    pooling: str
    device: str
    precision: str
    pad_id: int
    pad_multiple: int
    compile: bool = False
    cls_shortcut: bool = True  # CLS pooling: the last layer for the CLS token only (cls_shortcut.py)
    packed: bool = True  # CUDA, half precision: real tokens only, no padding (packed_bert.py)


def load_model(checkpoint: str | Path, dtype: torch.dtype) -> torch.nn.Module:
    """The checkpoint's base model with SDPA attention where the architecture has it; a checkpoint
    that cannot be loaded is a BgeEvalError naming it."""
    from transformers import AutoModel

    try:
        try:
            return AutoModel.from_pretrained(str(checkpoint), dtype=dtype, attn_implementation="sdpa")
        except (ValueError, ImportError) as first:  # an architecture without SDPA support
            if "sdpa" not in str(first).lower() and "scaled_dot_product" not in str(first).lower():
                raise
            return AutoModel.from_pretrained(str(checkpoint), dtype=dtype)
    except Exception as exc:  # noqa: BLE001 - transformers and safetensors raise many kinds
        raise checkpoint_error(checkpoint, "its weights could not be loaded", exc) from exc


def checkpoint_error(checkpoint: str | Path, what: str, exc: BaseException) -> BgeEvalError:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    return BgeEvalError(f"checkpoint {checkpoint}: {what} ({type(exc).__name__}: {reason}); check the files "
                        "there or point --model-path at a complete checkpoint.")


@dataclass(frozen=True)
class _OnTheWay:
    """A chunk's rows and fp32 vectors (in host memory once `copied` has passed; None: already there)."""

    rows: np.ndarray
    vectors: torch.Tensor
    copied: torch.cuda.Event | None


class ForwardEngine:
    """One model on one device."""

    def __init__(self, settings: ForwardSettings) -> None:
        self.settings = settings
        self.device = torch.device(settings.device)
        self.dtype = DTYPES[settings.precision]
        model: Any = load_model(settings.checkpoint, self.dtype).to(self.device).eval()  # read by attribute
        self.hidden_size = int(model.config.hidden_size)
        self.vocab_size = int(model.get_input_embeddings().num_embeddings)  # token ids the model can look up
        self.packed = packed_bert.build(model, self.device, settings.pooling) if settings.packed else None
        # with CLS pooling, the model gives CLS vectors (B, H) directly; else token states
        wants_shortcut = self.packed is None and settings.pooling == "cls" and settings.cls_shortcut
        shortcut = cls_shortcut.build(model, self.device) if wants_shortcut else None
        self.gives_cls = shortcut is not None
        model = shortcut if shortcut is not None else model
        if self.packed is not None:
            if settings.compile:
                self.packed.compile_dense()
            model = self.packed
        elif settings.compile:
            model = torch.compile(model, dynamic=True)
        self.model = model
        # batch limits: none until an out-of-memory error, then halved at each one
        self.max_rows: int | None = None
        self.token_budget: int | None = None
        self.oom_retries = 0

    @property
    def packs(self) -> bool:
        """Whether batches run as packed tokens (packed_bert.py)."""
        return self.packed is not None

    def encode(self, batches: list[PaddedBatch]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, vectors): each batch's rows and their fp32 vectors, in the order computed."""
        return self._collect(self._send_home(self._launch(batches)))

    def encode_stream(self, chunks: Iterable[list[PaddedBatch]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """encode() chunk by chunk (the same interface as multi_device.ShardedEngine); each
        chunk is launched before the one before it is collected, so the device does not wait
        at a chunk's end for the host to fetch, receive and launch the next."""
        previous = None
        for chunk in chunks:
            launched = self._send_home(self._launch(chunk))
            if previous is not None:
                yield self._collect(previous)
            previous = launched
        if previous is not None:
            yield self._collect(previous)

    def _launch(self, batches: list[PaddedBatch]) -> list[tuple[np.ndarray, torch.Tensor]]:
        """Each batch's rows and its vectors on the device, queued without waiting for them."""
        pending = list(batches)
        done: list[tuple[np.ndarray, torch.Tensor]] = []
        while pending:
            batch = pending.pop(0)
            if self.max_rows is not None and not batch.fits(self.max_rows, self.token_budget):
                pending = self._replan([batch, *pending])
                continue
            try:
                done.append((batch.rows, self._forward(batch)))
            except torch.OutOfMemoryError:
                self._shrink(batch)
                pending = self._replan([batch, *pending])
        return done

    def _send_home(self, done: list[tuple[np.ndarray, torch.Tensor]]) -> _OnTheWay:
        """A launched chunk's vectors on their way to host memory: on CUDA one copy queued right
        behind the chunk's own work, and an event after it, so waiting for this chunk never
        waits for the chunk launched after it."""
        if not done:
            return _OnTheWay(np.zeros(0, dtype=np.int64), torch.zeros(0, self.hidden_size), None)
        rows = np.concatenate([r for r, _ in done])
        vectors = torch.cat([v for _, v in done])
        if self.device.type != "cuda":
            return _OnTheWay(rows, vectors, None)
        host = torch.empty(vectors.shape, dtype=vectors.dtype, pin_memory=True)
        host.copy_(vectors, non_blocking=True)
        copied = torch.cuda.Event(blocking=True)  # waited on asleep: a spinning wait would take a core
        copied.record(torch.cuda.current_stream(self.device))  # from the tokenizer processes
        return _OnTheWay(rows, host, copied)

    @staticmethod
    def _collect(on_the_way: _OnTheWay) -> tuple[np.ndarray, np.ndarray]:
        if on_the_way.copied is not None:
            on_the_way.copied.synchronize()
        return on_the_way.rows, on_the_way.vectors.numpy()

    def close(self) -> None:
        """Nothing to release (the interface of ShardedEngine, which stops its workers)."""

    def _forward(self, batch: PaddedBatch) -> torch.Tensor:
        if self.packed is not None:
            return self._forward_packed(batch)
        on_gpu = self.device.type == "cuda"
        input_ids = torch.from_numpy(batch.input_ids)
        lengths = torch.from_numpy(batch.lengths)
        if on_gpu:
            input_ids, lengths = input_ids.pin_memory(), lengths.pin_memory()
        input_ids = input_ids.to(self.device, non_blocking=on_gpu).long()
        lengths = lengths.to(self.device, non_blocking=on_gpu)
        positions = torch.arange(input_ids.shape[1], device=self.device)
        attention_mask = (positions[None, :] < lengths[:, None]).long()
        with torch.inference_mode():
            if self.gives_cls:
                pooled = self.model(input_ids, attention_mask).float()
            else:
                hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
                pooled = pool(hidden, attention_mask, self.settings.pooling)
        return pooled

    def _forward_packed(self, batch: PaddedBatch) -> torch.Tensor:
        arrays = packed_bert.pack(batch.input_ids, batch.lengths)
        data = torch.from_numpy(arrays.data)
        on_gpu = self.device.type == "cuda"
        data = data.pin_memory().to(self.device, non_blocking=True) if on_gpu else data.to(self.device)
        assert self.packed is not None  # only called when the model runs on packed tokens
        with torch.inference_mode():
            return self.packed(data, arrays.tokens, arrays.texts, arrays.longest).float()

    def _shrink(self, failed: PaddedBatch) -> None:
        rows, width = failed.input_ids.shape
        if rows == 1:
            raise BgeEvalError(
                f"out of memory on {self.device} encoding a single text of {width} tokens; free memory on "
                "that device, use --precision fp16, or choose another --device.")
        self.token_budget = max(width, min(self.token_budget or rows * width, rows * width) // 2)
        self.max_rows = max(1, min(self.max_rows or rows, rows) // 2)
        self.oom_retries += 1
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _replan(self, batches: list[PaddedBatch]) -> list[PaddedBatch]:
        token_ids = [ids for batch in batches for ids in unpad(batch)]
        rows = np.concatenate([batch.rows for batch in batches])
        planned = plan_padded(token_ids, range(len(token_ids)), self.max_rows or len(token_ids), self.token_budget,
                              self.settings.pad_multiple, self.settings.pad_id)
        return [PaddedBatch(rows[b.rows], b.input_ids, b.lengths) for b in planned]


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """fp32 sentence vectors from token states (right-padded batches)."""
    if pooling == "cls":
        return hidden[:, 0].float()
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).float()
        return (hidden.float() * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    if pooling == "lasttoken":
        last = attention_mask.sum(dim=1) - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last].float()
    raise ValueError(f"unknown pooling {pooling!r}")
