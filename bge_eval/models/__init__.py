"""Models: their facts (spec), where their checkpoints come from (resolve), and which of their
tasks get a query instruction and normalised vectors (recipe)."""

from .resolve import ResolvedModel, is_local_revision, mteb_meta, resolve_model
from .spec import BGE_MODELS, EN_QUERY_INSTRUCTION, ZH_QUERY_INSTRUCTION, ModelSpec

__all__ = ["BGE_MODELS", "EN_QUERY_INSTRUCTION", "ZH_QUERY_INSTRUCTION", "ModelSpec", "ResolvedModel",
           "is_local_revision", "mteb_meta", "resolve_model"]
