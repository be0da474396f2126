"""The run manifest beside the results: config, instruction policy, versions, device,
harness revision and wall time per task. One file per results folder, merged run to run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST_NAME = "bge_eval_manifest.json"
_PACKAGES = ("bge_eval", "mteb", "torch", "transformers", "sentence-transformers", "datasets", "numpy")


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same folder, then rename over `path`."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False))


def atomic_write_text(path: Path, text: str) -> None:
    """Write text to a temporary file in the same folder, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_manifest(results_dir: Path) -> dict[str, Any] | None:
    path = results_dir / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def harness_git_revision() -> str | None:
    """The git commit of the bge_eval checkout, when it is one (with '+dirty' if modified)."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def device_facts(device: Any) -> dict[str, Any]:
    import torch

    facts: dict[str, Any] = {
        "device": str(device),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if getattr(device, "type", None) == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(device)
    return facts


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_manifest(base: dict[str, Any] | None, facts: dict[str, Any]) -> dict[str, Any]:
    """Start this run's manifest from the previous one (its task timings are kept)."""
    manifest = dict(base or {})
    manifest.update(facts)
    manifest.setdefault("tasks", {})
    manifest.setdefault("runs", [])
    manifest["runs"] = list(manifest["runs"]) + [{"started": now(), "finished": None}]
    return manifest
