"""Cross-encoder rerankers (bge-reranker-base/large, sentence-transformers CrossEncoder
checkpoints, or any object with a FlagEmbedding-style `compute_score(pairs)`), exposed to
mteb's CrossEncoderProtocol: score (query, passage) pairs, longest first, in batches."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .engine import pick_device, pick_dtype
from .text_embedder import EncodeCounts


class CrossEncoderReranker:
    """A sequence-classification checkpoint; the score is the logit of its (last) label."""

    def __init__(self, checkpoint: Any, meta: Any, *, device: str | None = None, precision: str = "auto",
                 batch_size: int | None = None, max_length: int = 512) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.mteb_model_meta = meta
        self.device = pick_device(device)
        self.dtype = pick_dtype(precision, self.device)
        self.batch_size = batch_size or 32
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
        self.model = AutoModelForSequenceClassification.from_pretrained(str(checkpoint), dtype=self.dtype)
        self.model.to(self.device).eval()
        self.counts = EncodeCounts()

    def take_counts(self) -> EncodeCounts:
        """Pairs scored (as texts and encoded) and seconds, since the last call."""
        counts, self.counts = self.counts, EncodeCounts()
        return counts

    def predict(self, inputs1: Any, inputs2: Any, *, task_metadata: Any, hf_split: str, hf_subset: str,
                prompt_type: Any = None, **kwargs: Any) -> np.ndarray:
        started = time.perf_counter()
        queries = [text for batch in inputs1 for text in batch["text"]]
        passages = [text for batch in inputs2 for text in batch["text"]]
        scores = self.compute_score(list(zip(queries, passages, strict=True)))
        counts = self.counts
        counts.texts, counts.distinct, counts.encoded = (counts.texts + len(scores), counts.distinct + len(scores),
                                                         counts.encoded + len(scores))
        counts.seconds += time.perf_counter() - started
        return scores

    def compute_score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        encoded = self.tokenizer([q for q, _ in pairs], [p for _, p in pairs], truncation=True,
                                 max_length=self.max_length, padding=False)
        order = np.argsort([-len(ids) for ids in encoded["input_ids"]], kind="stable")
        out = np.empty(len(pairs), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            features = self.tokenizer.pad({key: [encoded[key][i] for i in index] for key in encoded},
                                          return_tensors="pt")
            with torch.inference_mode():
                logits = self.model(**{k: v.to(self.device) for k, v in features.items()}).logits
            out[index] = logits[:, -1].float().cpu().numpy()
        return out


class FunctionReranker:
    """Wraps any object with `compute_score(list[(query, passage)]) -> scores` (FlagEmbedding's
    FlagReranker and friends) for mteb."""

    def __init__(self, scorer: Any, meta: Any, batch_size: int = 256) -> None:
        self._score: Callable = scorer.compute_score
        self.mteb_model_meta = meta
        self.batch_size = batch_size

    def predict(self, inputs1: Any, inputs2: Any, **kwargs: Any) -> np.ndarray:
        queries = [text for batch in inputs1 for text in batch["text"]]
        passages = [text for batch in inputs2 for text in batch["text"]]
        pairs = list(zip(queries, passages, strict=True))
        scores: list[float] = []
        for start in range(0, len(pairs), self.batch_size):
            batch_scores = self._score(pairs[start : start + self.batch_size])
            scores.extend(np.atleast_1d(np.asarray(batch_scores, dtype=np.float32)).tolist())
        return np.asarray(scores, dtype=np.float32)
