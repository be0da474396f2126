"""Is the score honest? A contamination audit of evaluated texts against one's own training data
(docs/audit.md): exact copies after a stated normalisation and near copies by MinHash LSH, per task,
written to audit.json; the clean items' scores from the per-item files."""
