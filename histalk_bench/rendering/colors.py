"""Per-vertex error colours: prediction vs ground truth L2 distance through a colormap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SKIN_RGB = np.array([0.80, 0.80, 0.82])


@dataclass(frozen=True)
class ErrorScale:
    """Colour scale: 0 -> first colormap colour, ``vmax`` (mesh units) -> last.

    ``display_factor`` and ``unit`` turn mesh units into the colour bar's numbers (mm for VOCASET)."""

    vmax: float
    cmap: str = "YlOrRd"
    display_factor: float = 1.0
    unit: str = "units"


def vertex_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(T, V) non-squared L2 distance between (T, V, 3) prediction and ground truth."""
    return np.linalg.norm(pred.astype(np.float64) - gt.astype(np.float64), axis=-1)


def choose_scale(errors: list[np.ndarray], dataset: str, cmap: str = "YlOrRd",
                 vmax: float | None = None) -> ErrorScale:
    """Scale whose top is ``vmax`` or the 99th percentile of all errors (robust to spikes)."""
    if vmax is None:
        pooled = np.concatenate([e.reshape(-1) for e in errors]) if errors else np.zeros(1)
        vmax = float(np.percentile(pooled, 99)) if pooled.size else 0.0
    vmax = max(float(vmax), 1e-12)
    if dataset.lower() == "vocaset":  # metres
        return ErrorScale(vmax=vmax, cmap=cmap, display_factor=1000.0, unit="mm")
    return ErrorScale(vmax=vmax, cmap=cmap, display_factor=1.0, unit="units")


def error_rgb(errors: np.ndarray, scale: ErrorScale) -> np.ndarray:
    """(..., 3) float RGB in [0, 1] for errors of any shape."""
    from matplotlib import colormaps  # noqa: PLC0415 (lazy: matplotlib: 0.1-0.4 s)

    normalised = np.clip(np.asarray(errors, dtype=np.float64) / scale.vmax, 0.0, 1.0)
    return colormaps[scale.cmap](normalised)[..., :3]
