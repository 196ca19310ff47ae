"""Timing shared by the benchmark scripts (imported as ``_timing``: the scripts run from this folder)."""

from __future__ import annotations

import time

import torch


def best_of(function, repeats: int) -> tuple[float, object]:
    """(fastest wall seconds of ``repeats`` calls, the last result); CUDA work is synchronised
    before and after each call so GPU time is counted."""
    times, result = [], None
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = function()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times), result
