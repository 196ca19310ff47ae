"""Camera framing and shading shared by the render backends (pure numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LIGHT_DIRECTION = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])


@dataclass(frozen=True)
class Framing:
    """Orthographic front view (camera on +z looking at -z, y up).

    center: (3,) point at the middle of the panel; half_extent: half the visible width/height,
    in the mesh's units (the same for every panel and frame, so motion is comparable).
    """

    center: np.ndarray
    half_extent: float


def frame_meshes(vertices: list[np.ndarray], margin: float = 1.08) -> Framing:
    """Framing that holds every vertex of every (T, V, 3) array given (with a margin)."""
    lows = np.min([v.reshape(-1, 3).min(axis=0) for v in vertices], axis=0)
    highs = np.max([v.reshape(-1, 3).max(axis=0) for v in vertices], axis=0)
    center = (lows + highs) / 2.0
    half = float(max(highs[0] - lows[0], highs[1] - lows[1])) / 2.0 * margin
    return Framing(center=center.astype(np.float64), half_extent=max(half, 1e-9))


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit normals: area-weighted sum of adjacent face normals."""
    tri = vertices[faces]
    weighted = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    corners = faces.reshape(-1)
    repeated = np.repeat(weighted, 3, axis=0)
    normals = np.stack([np.bincount(corners, repeated[:, axis], minlength=len(vertices)) for axis in range(3)], axis=1)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return (normals / np.maximum(length, 1e-20)).astype(np.float32)


def lambert(normals: np.ndarray, ambient: float = 0.35, diffuse: float = 0.65) -> np.ndarray:
    """(N,) brightness in [0, 1] of surfaces with these normals under the fixed front light.
    Two-sided: a surface seen from behind is lit like its front."""
    return ambient + diffuse * np.abs(normals @ LIGHT_DIRECTION)
