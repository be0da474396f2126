"""Exact dense search on the device: scores and running top-k (dense), mteb's retrieval search
protocol over an encoder (corpus_search)."""
