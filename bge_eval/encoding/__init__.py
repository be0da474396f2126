"""Texts in, fp32 vectors out: the only package (with search/) that imports torch. mteb_encoder is the
mteb-facing model, text_embedder the pipeline, engine the model on one device, fast/ its checked shortcuts."""
