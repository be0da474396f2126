"""What the encoder ran on, for the run manifest (kept free of torch so any layer can read it)."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any


@dataclass(frozen=True)
class EncoderFacts:
    """What the encoder ran on: device facts, compiled, packed tokens, precision."""

    device: dict[str, Any]
    compiled: bool
    packed: bool
    precision: str


def host_facts(device: str) -> dict[str, Any]:
    """The machine beside the device name (torch's facts are added by the encoder)."""
    return {"device": device, "platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count()}


# The code that turns texts into vectors: another version may change them, so the embedding cache
# keys on these too (a cached vector is served only to the same code).
VECTOR_CODE = ("bge_eval", "torch", "transformers", "tokenizers")


@cache
def vector_code_versions() -> dict[str, str]:
    """The installed versions of VECTOR_CODE ("none" for one not installed)."""
    out = {}
    for name in VECTOR_CODE:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "none"
    return out
