"""Thin Click commands over plain library functions; no torch/transformers at import time."""
