"""The encoder adapter: BGE models exposed to mteb's runner.

Implements mteb's EncoderProtocol: texts are gathered from mteb's DataLoader, the query
instruction is added where the InstructionRouter says, and the texts are embedded by the
TextEmbedder (embedder.py: tokenising pipeline, model engine, embedding cache) with the
model's own pooling, L2-normalised, in fp32. On CUDA, similarity scores are computed on
the GPU. Also mteb's SearchProtocol, so retrieval tasks use corpus_search.CorpusSearch
(running top-k on the device) instead of mteb's per-chunk Python heaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from mteb.models.abs_encoder import AbsEncoder

from ..models.instructions import InstructionRouter
from ..models.resolve import ModelSpec, ResolvedModel
from ..search.corpus_search import CorpusSearch
from .text_embedder import TextEmbedder

if TYPE_CHECKING:
    from mteb.models.model_meta import ModelMeta


class BgeEncoder(AbsEncoder):
    """A transformers checkpoint exposed to mteb with the model's own pooling and instructions.

    embedder_options: TextEmbedder's keyword options (device, devices, precision, batch_size,
    token_budget, compile_model, packed, cache)."""

    def __init__(self, resolved: ResolvedModel, router: InstructionRouter, meta: ModelMeta,
                 **embedder_options: Any) -> None:
        self.spec: ModelSpec = resolved.spec
        self.router = router
        self.mteb_model_meta = meta
        self.model_prompts = None  # instruction routing is ours (InstructionRouter)
        self.embedder = TextEmbedder(resolved.checkpoint, resolved.spec,
                                     identity=(str(meta.name), str(meta.revision)), **embedder_options)
        self.corpus_search = CorpusSearch(self)

    @property
    def device(self) -> torch.device:
        return self.embedder.device

    @property
    def dtype(self) -> torch.dtype:
        return self.embedder.dtype

    def close(self) -> None:
        """Stop worker processes, if any."""
        self.embedder.close()

    # --- mteb's EncoderProtocol -------------------------------------------------
    def encode(
        self,
        inputs: Any,
        *,
        task_metadata: Any,
        hf_split: str,
        hf_subset: str,
        prompt_type: Any = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Embed every text of mteb's DataLoader, in its order. mteb's `batch_size` only sized
        its DataLoader (mteb sets 32 when none is given); the batches here are the embedder's
        (batch_size and token budget given when this encoder was built)."""
        texts = [text for batch in inputs for text in batch["text"]]
        instruction = self.router.instruction_for(task_metadata, prompt_type)
        if instruction:
            texts = [instruction + text for text in texts]
        return self.embed(texts, show_progress=bool(kwargs.get("show_progress_bar", False)))

    def embed(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embeddings (N, D) in fp32 (TextEmbedder.embed)."""
        return self.embedder.embed(texts, show_progress)

    def similarity(self, embeddings1: Any, embeddings2: Any) -> Any:
        """Cosine scores in fp32; on CUDA as an fp16 tensor-core product on the GPU (mteb's
        retrieval search then takes its top-k there too)."""
        if self.device.type != "cuda":
            return super().similarity(embeddings1, embeddings2)
        from ..search.dense import cosine_scores

        a = torch.as_tensor(embeddings1).to(self.device, non_blocking=True)
        b = torch.as_tensor(embeddings2).to(self.device, non_blocking=True)
        return cosine_scores(a, b)

    # --- mteb's SearchProtocol (retrieval and reranking tasks) ---------------------
    def index(self, corpus: Any, **kwargs: Any) -> None:
        self.corpus_search.index(corpus, **kwargs)

    def search(self, queries: Any, **kwargs: Any) -> dict[str, dict[str, float]]:
        return self.corpus_search.search(queries, **kwargs)
