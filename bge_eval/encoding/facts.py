"""What the encoder ran on, for the run manifest (kept free of torch so any layer can read it)."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
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
