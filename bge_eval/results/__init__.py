"""Saved results read back: mteb result files and the harness's per-query / similarity files (files),
tidy rows (tidy), the published scores to compare with (published)."""
