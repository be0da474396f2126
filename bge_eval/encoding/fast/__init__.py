"""Fast paths that re-assemble a model from its own modules, each checked against the full model
when built (a disagreement costs speed, never correctness)."""
