"""Pruning sweeps: keep the top f of a scored pool, train proxy language models, measure held-out loss."""
