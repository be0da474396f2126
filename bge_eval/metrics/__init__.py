"""Pure metrics on plain values: ranking metrics, C-MTEB reranking metrics, paired significance,
similarity distributions."""
