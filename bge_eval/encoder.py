"""The encoder adapter: the only module that runs the model.

Implements mteb's EncoderProtocol: texts are gathered from mteb's DataLoader, the
query instruction is added where the InstructionRouter says, then all texts are
tokenised once, sorted by length, batched, encoded under inference mode, pooled
(CLS / mean / last token) and L2-normalised in fp32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from mteb.models.abs_encoder import AbsEncoder
from tqdm.auto import tqdm

from .batching import pad_to_multiple, plan_batches
from .embedding_cache import MIN_TEXTS, EmbeddingCache, cache_key
from .instructions import InstructionRouter
from .models import ModelSpec, ResolvedModel

if TYPE_CHECKING:
    from mteb.models.model_meta import ModelMeta

DEFAULT_GPU_TOKEN_BUDGET = 65_536
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def pick_device(device: str | None) -> torch.device:
    """The requested device, or CUDA when present, else CPU."""
    if device:
        if device.startswith("cuda") and not torch.cuda.is_available():
            from .errors import BgeEvalError

            raise BgeEvalError(f"--device {device}: CUDA is not available here; use --device cpu.")
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(precision: str, device: torch.device) -> torch.dtype:
    """auto: fp16 on CUDA, fp32 on CPU (half precision on CPU is slow and lossy)."""
    if precision == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    return _DTYPES[precision]


class BgeEncoder(AbsEncoder):
    """A transformers checkpoint exposed to mteb with the model's own pooling and instructions."""

    def __init__(
        self,
        resolved: ResolvedModel,
        router: InstructionRouter,
        meta: ModelMeta,
        *,
        device: str | None = None,
        precision: str = "auto",
        batch_size: int = 32,
        token_budget: int | None = None,
        cache: EmbeddingCache | None = None,
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.spec: ModelSpec = resolved.spec
        self.router = router
        self.mteb_model_meta = meta
        self.model_prompts = None  # instruction routing is ours (InstructionRouter)
        self.batch_size = batch_size
        self.device = pick_device(device)
        self.dtype = pick_dtype(precision, self.device)
        # On GPU a batch is sized by tokens (padded to multiples of 8 for tensor cores).
        on_gpu = self.device.type == "cuda"
        self.token_budget = token_budget or (DEFAULT_GPU_TOKEN_BUDGET if on_gpu else None)
        self._multiple = 8 if on_gpu else 1
        self.cache = cache
        self.oom_retries = 0
        self._weights_fingerprint = weights_fingerprint(resolved.checkpoint)
        self.tokenizer = AutoTokenizer.from_pretrained(str(resolved.checkpoint))
        self.model = AutoModel.from_pretrained(str(resolved.checkpoint), dtype=self.dtype)
        self.model.to(self.device).eval()

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
        """Embed every text of mteb's DataLoader, in its order."""
        texts = [text for batch in inputs for text in batch["text"]]
        instruction = self.router.instruction_for(task_metadata, prompt_type)
        if instruction:
            texts = [instruction + text for text in texts]
        return self.embed(
            texts,
            batch_size=kwargs.get("batch_size") or self.batch_size,
            show_progress=bool(kwargs.get("show_progress_bar", False)),
        )

    def similarity(self, embeddings1: Any, embeddings2: Any) -> Any:
        """Cosine scores in fp32; on CUDA as an fp16 tensor-core product on the GPU (mteb's
        retrieval search then takes its top-k there too)."""
        if self.device.type != "cuda":
            return super().similarity(embeddings1, embeddings2)
        from .search import cosine_scores

        a = torch.as_tensor(embeddings1).to(self.device, non_blocking=True)
        b = torch.as_tensor(embeddings2).to(self.device, non_blocking=True)
        return cosine_scores(a, b)

    # --- embedding ----------------------------------------------------------------
    def cache_identity(self) -> tuple[str, ...]:
        """What the embedding cache key covers besides the texts: identity, settings, and the
        checkpoint's weight files (so a re-trained checkpoint under the same name never hits)."""
        meta = self.mteb_model_meta
        return (str(meta.name), str(meta.revision), str(self.dtype), self.spec.pooling,
                str(self.spec.normalize), str(self.spec.max_length), self._weights_fingerprint)

    def embed(
        self, texts: Sequence[str], batch_size: int | None = None, show_progress: bool = False
    ) -> np.ndarray:
        """Embeddings (N, D) as fp32, L2-normalised when the model is; served from the
        embedding cache when these exact texts were encoded before with the same settings."""
        key = None
        if self.cache is not None and len(texts) >= MIN_TEXTS:
            key = cache_key(self.cache_identity(), texts)
            cached = self.cache.get(key)
            if cached is not None:
                return cached
        out = self._embed(texts, batch_size or self.batch_size, show_progress)
        if key is not None:
            self.cache.put(key, out)
        return out

    def _embed(self, texts: Sequence[str], max_rows: int, show_progress: bool) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.model.config.hidden_size), dtype=np.float32)
        token_ids = self.tokenizer(
            list(texts), truncation=True, max_length=self.spec.max_length,
            padding=False, return_attention_mask=False, return_token_type_ids=False,
        )["input_ids"]
        lengths = [len(ids) for ids in token_ids]
        out = np.empty((len(texts), self.model.config.hidden_size), dtype=np.float32)
        pending = list(range(len(texts)))
        budget = self.token_budget
        with tqdm(total=len(texts), desc="Encoding", disable=not show_progress or len(texts) < 1000) as bar:
            while pending:
                plan = plan_batches([lengths[i] for i in pending], max_rows, budget, self._multiple)
                batches = [[pending[i] for i in batch] for batch in plan]
                pending = []
                for position, index in enumerate(batches):
                    try:
                        out[index] = self._encode_batch([token_ids[i] for i in index])
                    except torch.OutOfMemoryError:
                        # keep what is done; shrink the batches and go on with the rest
                        pending = [i for batch in batches[position:] for i in batch]
                        widest = max(lengths[i] for i in pending)
                        budget = max(widest, (budget or max_rows * widest) // 2)
                        max_rows = max(1, max_rows // 2)
                        self.oom_retries += 1
                        if self.device.type == "cuda":
                            torch.cuda.empty_cache()
                        break
                    bar.update(len(index))
        return out

    def _encode_batch(self, batch_ids: list[list[int]]) -> np.ndarray:
        input_ids, attention_mask = self._pad(batch_ids)
        with torch.inference_mode():
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            pooled = pool(hidden.float(), attention_mask, self.spec.pooling)
            if self.spec.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
        return pooled.cpu().numpy()

    def _pad(self, batch_ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = pad_to_multiple(max(len(ids) for ids in batch_ids), self._multiple)
        pad_id = self.tokenizer.pad_token_id or 0
        input_ids = torch.full((len(batch_ids), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch_ids), width), dtype=torch.long)
        for row, ids in enumerate(batch_ids):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, : len(ids)] = 1
        pin = self.device.type == "cuda"
        if pin:
            input_ids, attention_mask = input_ids.pin_memory(), attention_mask.pin_memory()
        return (
            input_ids.to(self.device, non_blocking=pin),
            attention_mask.to(self.device, non_blocking=pin),
        )


def weights_fingerprint(checkpoint: Any) -> str:
    """Names, sizes and modification times of a checkpoint's weight files."""
    from pathlib import Path

    parts = []
    for path in sorted(Path(checkpoint).glob("*")):
        if path.suffix in {".safetensors", ".bin", ".pt"} and path.is_file():
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(parts)


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Sentence vectors from token states (right-padded batches)."""
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    if pooling == "lasttoken":
        last = attention_mask.sum(dim=1) - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise ValueError(f"unknown pooling {pooling!r}")
