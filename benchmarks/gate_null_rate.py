"""How often the gate's one-sided test shows a drop beyond the tolerance when there is none: per-item
changes drawn symmetric about -tolerance (the edge of "no regression"), for several numbers of
items and shapes of noise, against alpha. Also the rate when the drop is real (power), for scale.

    python benchmarks/gate_null_rate.py [--runs 2000]

Writes benchmarks/results/gate_null_rate_<date>.json.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np

from bge_eval.metrics.drop_test import drop_test

ALPHA, TOL = 0.05, 0.005
NOISE = {  # per-item changes around their mean
    "normal": lambda rng, n: rng.normal(0, 0.05, n),
    "laplace": lambda rng, n: rng.laplace(0, 0.05, n),
    # nDCG-like: most queries unchanged, a few move a lot either way, in steps
    "sparse-steps": lambda rng, n: rng.choice([0.0, 0.0, 0.0, 0.0, -0.3, 0.3, -0.1, 0.1], n),
}


def rate(n: int, noise: str, shift: float, runs: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    shown = 0
    for run in range(runs):
        deltas = shift + NOISE[noise](rng, n)
        base = {f"q{i}": 0.5 for i in range(n)}
        new = {q: 0.5 + d for q, d in zip(base, deltas, strict=True)}
        shown += drop_test(base, new, tolerance=TOL, alpha=ALPHA, resamples=2_000, seed=run).significant
    return shown / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2_000)
    args = parser.parse_args()
    rows = []
    for n in (8, 16, 50, 300):
        for noise in NOISE:
            null = rate(n, noise, -TOL, args.runs, seed=n)
            real = rate(n, noise, -TOL - 0.03, args.runs, seed=n + 1)
            rows.append({"items": n, "noise": noise, "exact": n <= 16, "false_positive_rate": round(null, 4),
                         "rate_when_the_drop_is_0.03_beyond": round(real, 4)})
            print(rows[-1], flush=True)
    out = {"alpha": ALPHA, "tolerance": TOL, "runs_per_cell": args.runs, "rows": rows}
    path = Path(__file__).parent / "results" / f"gate_null_rate_{date.today()}.json"
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
