"""What deployment loses: index variants (quantized, truncated, approximate) built from one set of
embeddings, searched and measured beside exact search. variants.py is plain values (the report and
the results layout read it); build.py, measure.py and search.py hold the numerics (numpy, torch,
faiss) and are imported where they are used."""
