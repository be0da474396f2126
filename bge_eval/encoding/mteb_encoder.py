"""BGE models exposed to mteb's runner (its EncoderProtocol and SearchProtocol): texts from
mteb's DataLoader get the query instruction and normalisation the Recipe gives their task and
are embedded by the TextEmbedder; retrieval tasks search with CorpusSearch, cosine scores on
the GPU when there is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .._mteb import AbsEncoder
from ..models import ModelSpec, ResolvedModel
from ..models.recipe import Recipe
from ..search.corpus_search import CorpusSearch
from .facts import EncoderFacts, host_facts
from .settings import PipelineSettings
from .text_embedder import EncodeCounts, TextEmbedder

if TYPE_CHECKING:
    from .._mteb import ModelMeta
    from ..config import RunConfig


class BgeEncoder(AbsEncoder):
    """A transformers checkpoint exposed to mteb with the model's own pooling and instructions.

    embedder_options: TextEmbedder's keyword options (device, devices, precision, batch_size,
    token_budget, compile_model, packed, cache)."""

    def __init__(self, resolved: ResolvedModel, recipe: Recipe, meta: ModelMeta,
                 **embedder_options: Any) -> None:
        self.spec: ModelSpec = resolved.spec
        self.checkpoint = resolved.checkpoint
        self.recipe = recipe
        self.mteb_model_meta = meta
        self.model_prompts = None  # instruction routing is ours (Recipe)
        self.show_progress = False  # a bar inside long encodes (RunConfig.progress)
        self.embedder = TextEmbedder(resolved.checkpoint, resolved.spec,
                                     identity=(str(meta.name), str(meta.revision)), **embedder_options)
        self.corpus_search = CorpusSearch(self)

    @classmethod
    def from_config(cls, config: RunConfig, resolved: ResolvedModel | None = None, *,
                    recipe: Recipe | None = None, meta: ModelMeta | None = None,
                    pipeline: PipelineSettings | None = None) -> BgeEncoder:
        """The encoder a RunConfig asks for (model, device(s), precision, batches, cache)."""
        from ..models import mteb_meta, resolve_model
        from .embedding_cache import EmbeddingCache

        resolved = resolved or resolve_model(config.model, config.model_path, config.revision)
        meta = meta or mteb_meta(resolved)
        recipe = recipe or Recipe.for_config(config, resolved.spec, meta)
        cache = EmbeddingCache(config.embedding_cache, config.embedding_cache_max_bytes) if config.embedding_cache \
            else None
        encoder = cls(resolved, recipe, meta, device=config.device, devices=config.devices,
                      precision=config.precision, batch_size=config.batch_size, token_budget=config.token_budget,
                      compile_model=config.compile, packed=config.packed, cache=cache, pipeline=pipeline)
        encoder.show_progress = config.progress
        encoder.corpus_search.corpus_chunk_docs = config.corpus_chunk
        return encoder

    @property
    def language(self) -> str:
        """The model's language ("en", "zh" or "multi"): picks the default benchmark."""
        return self.spec.language

    def encoder_facts(self) -> EncoderFacts:
        """For the run manifest: the device(s), compile, packed tokens, precision."""
        device = {**host_facts(str(self.device)), "torch_threads": torch.get_num_threads()}
        if self.device.type == "cuda":
            device["gpu"] = torch.cuda.get_device_name(self.device)
        if self.embedder.devices:
            device["encoding_devices"] = list(self.embedder.devices)
        settings = self.embedder.settings
        return EncoderFacts(device=device, compiled=settings.compile, packed=bool(self.embedder.engine.packs),
                            precision=settings.precision)

    def take_counts(self) -> EncodeCounts:
        """Texts asked for, distinct, cached and encoded, and seconds, since the last call."""
        return self.embedder.take_counts()

    def __enter__(self) -> BgeEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        instruction = self.recipe.instruction_for(task_metadata, prompt_type)
        if instruction:
            texts = [instruction + text for text in texts]
        return self.embed(texts, show_progress=self.show_progress or bool(kwargs.get("show_progress_bar", False)),
                          normalize=self.recipe.normalize_for(task_metadata))

    def embed(self, texts: Sequence[str], show_progress: bool = False, normalize: bool | None = None) -> np.ndarray:
        """Embeddings (N, D) in fp32 (TextEmbedder.embed); normalize: None for the model's own."""
        return self.embedder.embed(texts, show_progress, normalize)

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
