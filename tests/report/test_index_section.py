"""The index section's frontier and recommendations on the figures measured on SciFact with
all-MiniLM-L6-v2 (docs/index-variants.md): which variants are dominated, and the sentences a
reader gets per budget."""

from __future__ import annotations

from bge_eval.report.index_section import VariantPoint, _against, _with_frontiers, recommendations

MEASURED = [  # variant, nDCG@10, bytes per vector, p50 ms
    ("exact", 0.6451, 1536, 22.55), ("fp16", 0.6451, 768, 8.00), ("int8", 0.6460, 385, 8.00),
    ("binary", 0.5864, 48, 0.87), ("binary-rescore:100", 0.6436, 432, 1.09), ("dims:192", 0.6143, 768, 0.10),
    ("dims:128", 0.6016, 512, 0.06), ("hnsw:32", 0.6451, 1808, 0.10), ("ivf-flat:287:8", 0.5650, 1630, 0.02),
    ("ivf-pq:287:48:8", 0.5445, 217, 0.03),
]


def points():
    made = [VariantPoint(v, s, 0.0, b, p50, None, None, None, None) for v, s, b, p50 in MEASURED]
    return {p.variant: p for p in _with_frontiers([_against(p, 0.6451) for p in made])}


def test_the_frontiers_keep_exactly_the_undominated_variants():
    found = points()
    assert {v for v, p in found.items() if p.frontier_bytes} == {"binary", "int8"}
    # by latency: ivf-flat fastest, ivf-pq dominated by it (slower, worse), dims:192 by hnsw:32 (as fast,
    # better), hnsw:32 the fastest at exact's score, int8 the best score of all.
    assert {v for v, p in found.items() if p.frontier_latency} == {"ivf-flat:287:8", "dims:128", "hnsw:32", "int8"}
    assert found["int8"].delta > 0 and abs(found["binary"].delta + 0.0587) < 1e-9


def test_the_recommendations_name_a_variant_per_budget_and_the_cheapest_close_to_exact():
    lines = recommendations(list(points().values()))
    assert lines[0] == "Up to 48 bytes per vector (32.0x smaller than exact): binary, 58.64 (-5.87 against exact)."
    assert lines[1] == "Up to 385 bytes per vector (4.0x smaller than exact): int8, 64.60 (+0.09 against exact)."
    assert lines[2] == "Smallest within 1 point of exact: int8 (385 bytes per vector, +0.09)."
    assert lines[3] == "Fastest within 1 point of exact: hnsw:32 (p50 0.10 ms per query, +0.00)."
    assert len(lines) == 4
