"""Presentation shared by tables and figures: variable labels (codebook, English or Chinese),
the fixed text of each output language, and what kind of term a model term is."""
