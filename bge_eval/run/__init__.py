"""Running evaluations: the first stage (runner), one task (task_eval), the second stage (second_stage),
where files go (layout), the manifest, what is added after mteb (extras), what a run returns (outcome)."""
