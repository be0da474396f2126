"""Running evaluations: the first stage (runner), one task (task_eval), the second stage (second_stage),
units through one executor (executor: here or on Ray), what is added after mteb (extras), what a run
returns (outcome). Where files go and the manifest are the results layer's (results/layout, results/manifest)."""
