"""Texts in, embeddings out: the tokenising stage in front of the model engine (one device, or
one worker per device), with the embedding cache. Knows nothing of mteb (mteb_encoder.py
adapts it), so benchmarks and other tools can use it alone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .._util import bar_interval
from ..config import batch_limits
from ..errors import BgeEvalError
from ..models.spec import ModelSpec
from .batching import prefetch
from .embedding_cache import CacheSpace, EmbeddingCache, text_key
from .engine import (
    ForwardEngine,
    ForwardSettings,
    checkpoint_error,
    pick_device,
    pick_dtype,
    precision_name,
)
from .facts import vector_code_versions
from .multi_device import ShardedEngine, resolve_devices
from .settings import PipelineSettings
from .tokenization import (
    BatchLimits,
    TokenIds,
    TokenizerProcesses,
    planned_chunks,
)

PROGRESS_MIN_TEXTS = 1_000  # shorter encodes end before a bar would help


@dataclass
class EncodeCounts:
    """What the embedder did since the counts were last taken: texts asked for, distinct
    among them (per call), served by the cache, encoded by the model, and seconds spent."""

    texts: int = 0
    distinct: int = 0
    cached: int = 0
    encoded: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, int | float]:
        return {"texts": self.texts, "distinct": self.distinct, "cached": self.cached, "encoded": self.encoded,
                "encode_s": round(self.seconds, 3)}


class TextEmbedder:
    """One checkpoint's embeddings with its own pooling, normalisation and max length.

    identity: what names the model in the cache key (name, revision); the checkpoint's weight
        files are added, so a re-trained checkpoint under the same name never hits.
    devices: two or more devices ("cuda:0", "cuda:1", or "cpu" repeated), one worker process
        each; `device` is then the first of them.
    batch_size: most texts per batch; default 32 on CPU, and 1,024 on GPU, where the token
        budget (default 65,536 padded tokens) is what sizes batches.
    cls_shortcut: with CLS pooling, the last layer for the CLS token only (cls_shortcut.py);
        False runs the full model (benchmarks and tests compare the two).
    packed: on CUDA in half precision, BERT-family models on real tokens alone, no padding
        (packed_bert.py); False runs padded batches (benchmarks compare the two).
    pipeline: chunking and tokenizer processes (settings.py); default: from the environment."""

    def __init__(
        self,
        checkpoint: str | Path,
        spec: ModelSpec,
        *,
        identity: Sequence[str] = (),
        device: str | None = None,
        devices: Sequence[str] = (),
        precision: str = "auto",
        batch_size: int | None = None,
        token_budget: int | None = None,
        compile_model: bool = False,
        cache: EmbeddingCache | None = None,
        cls_shortcut: bool = True,
        packed: bool = True,
        pipeline: PipelineSettings | None = None,
    ) -> None:
        from transformers import AutoTokenizer

        self.spec = spec
        devices = resolve_devices(devices) if devices else []  # "all" -> cuda:0, cuda:1, ...
        self.devices = devices if len(devices) > 1 else []
        self.device = pick_device(devices[0] if devices else device)
        self.dtype = pick_dtype(precision, self.device)
        on_gpu = self.device.type == "cuda"
        self.cache = cache
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
        except Exception as exc:  # noqa: BLE001 - a broken tokenizer file raises many kinds
            raise checkpoint_error(checkpoint, "its tokenizer could not be loaded", exc) from exc
        self.settings = ForwardSettings(
            checkpoint=str(checkpoint), pooling=spec.pooling,
            device=str(self.device), precision=precision_name(self.dtype),
            pad_id=self.tokenizer.pad_token_id or 0, pad_multiple=8 if on_gpu else 1,
            compile=compile_model, cls_shortcut=cls_shortcut, packed=packed,
        )
        if len(devices) > 1:
            self.engine: ForwardEngine | ShardedEngine = ShardedEngine(self.settings, devices)
        else:
            self.engine = ForwardEngine(self.settings)
        if len(self.tokenizer) > self.engine.vocab_size:
            self.engine.close()
            raise BgeEvalError(f"checkpoint {checkpoint}: its tokenizer has {len(self.tokenizer)} tokens, its model's "
                               f"embedding table {self.engine.vocab_size}; the tokenizer and the weights do not belong "
                               "together (use the tokenizer the model was trained with).")
        self.token_ids = TokenIds(self.tokenizer, spec.max_length)
        # packed tokens compute no padding: chunks are planned alone, without rows kept back
        self.batch_plan = BatchLimits(*batch_limits(on_gpu, batch_size, token_budget), self.settings.pad_multiple,
                                      self.settings.pad_id, keep_back=not self.engine.packs)
        self.pipeline = pipeline or PipelineSettings.from_environment()
        wants_processes = self.pipeline.uses_processes(on_gpu) and self.token_ids.backend_json is not None
        self.tokenizer_process = (TokenizerProcesses(self.token_ids, self.batch_plan, self.pipeline)
                                  if wants_processes else None)
        # the checkpoint's content fingerprint: other weights or another tokenizer under the same name miss
        self.cache_space: CacheSpace | None = None
        if cache is not None:
            name, revision = (*identity, "", "")[:2]
            self.cache_space = cache.space({
                "model": name, "revision": revision, "checkpoint": cache.checkpoint_fingerprint(checkpoint),
                "dtype": str(self.dtype), "pooling": spec.pooling, "max_length": str(spec.max_length),
                **vector_code_versions()},
                self.hidden_size)
        self.counts = EncodeCounts()

    @property
    def batch_size(self) -> int:
        """Most texts per batch."""
        return self.batch_plan.max_rows

    @property
    def token_budget(self) -> int | None:
        """Most padded tokens per batch (None: rows alone limit a batch)."""
        return self.batch_plan.token_budget

    @property
    def hidden_size(self) -> int:
        return self.engine.hidden_size

    @property
    def oom_retries(self) -> int:
        return self.engine.oom_retries

    def close(self) -> None:
        """Stop worker processes, if any."""
        self.engine.close()
        if self.tokenizer_process is not None:
            self.tokenizer_process.close()

    def take_counts(self) -> EncodeCounts:
        """The counts since the last call (a task's, when called around each task)."""
        counts, self.counts = self.counts, EncodeCounts()
        return counts

    def embed(self, texts: Sequence[str], show_progress: bool = False, normalize: bool | None = None) -> np.ndarray:
        """Embeddings (N, D) as fp32, L2-normalised when `normalize` says (default: when the
        model's spec does). Each distinct text is encoded once and its row repeated; rows whose
        text was encoded before with the same model and settings come from the cache.
        Normalising comes after the cache, so one entry serves a task that normalises and one
        that does not."""
        started = time.perf_counter()
        position: dict[str, int] = {}
        inverse = np.fromiter((position.setdefault(text, len(position)) for text in texts), dtype=np.int64,
                              count=len(texts))
        distinct = list(position)
        pooled = np.empty((len(distinct), self.hidden_size), dtype=np.float32)
        todo = np.arange(len(distinct))
        keys: list[bytes] = []
        if self.cache_space is not None and distinct:
            keys = [text_key(text) for text in distinct]
            found, vectors = self.cache_space.lookup(keys)
            pooled[found] = vectors
            todo = np.setdiff1d(todo, found, assume_unique=True)
        if len(todo):
            encoded = self._embed([distinct[i] for i in todo], show_progress)
            pooled[todo] = encoded
            if self.cache_space is not None:
                self.cache_space.add([keys[i] for i in todo], encoded)
        if len(distinct) < len(texts):
            pooled = pooled[inverse]
        counts = self.counts
        counts.texts, counts.distinct = counts.texts + len(texts), counts.distinct + len(distinct)
        counts.cached, counts.encoded = counts.cached + len(distinct) - len(todo), counts.encoded + len(todo)
        counts.seconds += time.perf_counter() - started
        return unit_rows(pooled) if (self.spec.normalize if normalize is None else normalize) else pooled

    def _embed(self, texts: Sequence[str], show_progress: bool) -> np.ndarray:
        out = np.empty((len(texts), self.hidden_size), dtype=np.float32)
        if self.tokenizer_process is not None and len(texts) >= self.pipeline.process_min_texts:
            chunks = self.tokenizer_process.planned_chunks(texts)
        else:
            chunks = prefetch(planned_chunks(texts, self.token_ids, self.batch_plan, self.pipeline))
        with tqdm(total=len(texts), desc="encoding", unit="text", leave=False, mininterval=bar_interval(),
                  disable=not show_progress or len(texts) < PROGRESS_MIN_TEXTS) as bar:
            for rows, vectors in self.engine.encode_stream(chunks):
                out[rows] = vectors
                bar.update(len(rows))
        return out


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows L2-normalised in fp32, as torch.nn.functional.normalize does (a zero row stays zero)."""
    return torch.nn.functional.normalize(torch.from_numpy(vectors), p=2, dim=-1).numpy()
