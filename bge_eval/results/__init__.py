"""Saved results: where a run's files live and how they get there (layout), the run manifest beside
them (manifest), mteb result files and the harness's per-query / similarity files read back (files,
per_item), tidy rows (tidy), the published scores to compare with (published). Used by run/, report/
and gating/; uses none of them."""
