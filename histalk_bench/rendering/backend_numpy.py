"""CPU z-buffer rasteriser in numpy (no OpenGL, no matplotlib): orthographic front view,
per-pixel depth test, each triangle filled with the mean of its corners' Lambert shading
(as the matplotlib painter does).  The pixel centres of every triangle's bounding box are tested in one
vectorised pass with the triangle's barycentric and depth planes; ``np.maximum.at`` keeps the
nearest surface per pixel.  Two-sided, like the matplotlib painter, and several times faster."""

from __future__ import annotations

import numpy as np

from .colors import SKIN_RGB
from .geometry import Framing, lambert, vertex_normals

class NumpyPanelRenderer:
    """Renders one (V, 3) mesh with (F, 3) triangles to a (size, size, 3) uint8 image."""

    name = "numpy"

    def __init__(self, faces: np.ndarray, framing: Framing, size: int):
        if faces is None:
            raise ValueError("the numpy rasteriser needs triangles")
        self.faces = np.asarray(faces, dtype=np.int64)
        self.size = int(size)
        self.origin = np.array([framing.center[0] - framing.half_extent, framing.center[1] + framing.half_extent])
        self.pixels_per_unit = self.size / (2.0 * framing.half_extent)

    def _project(self, vertices: np.ndarray) -> np.ndarray:
        """(V, 3) -> (V, 3) float64: column, row (pixel units, y down), depth (larger is nearer)."""
        out = np.empty_like(vertices, dtype=np.float64)
        out[:, 0] = (vertices[:, 0] - self.origin[0]) * self.pixels_per_unit
        out[:, 1] = (self.origin[1] - vertices[:, 1]) * self.pixels_per_unit
        out[:, 2] = vertices[:, 2]
        return out

    def render(self, vertices: np.ndarray, vertex_rgb: np.ndarray | None = None) -> np.ndarray:
        """vertices: (V, 3); vertex_rgb: (V, 3) colours in [0, 1] or None for plain skin."""
        vertices = np.asarray(vertices, dtype=np.float64)
        base = np.broadcast_to(SKIN_RGB, vertices.shape) if vertex_rgb is None else np.asarray(vertex_rgb)
        shaded = base * lambert(vertex_normals(vertices, self.faces))[:, None]
        rgb = np.clip(shaded[self.faces].mean(axis=1) * 255.0 + 0.5, 0, 255).astype(np.uint8)  # (F, 3)
        packed = np.zeros((len(rgb), 4), dtype=np.uint8)  # one uint32 per triangle: fast scattered writes
        packed[:, :3] = rgb
        pix, tri = self._coverage(self._project(vertices)[self.faces])
        image = np.full(self.size * self.size, 0xFFFFFFFF, dtype=np.uint32)
        image[pix] = packed.view(np.uint32)[tri, 0]
        return image.view(np.uint8).reshape(self.size, self.size, 4)[:, :, :3]

    def _coverage(self, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """tris: (F, 3, 3) projected corners -> pixel ids (N,) and triangle ids (N,) of the
        visible surface.  Scanline: each (triangle, pixel row) pair gets the exact span of
        pixel centres inside; the nearest depth per pixel wins."""
        top = np.maximum(np.floor(tris[:, :, 1].min(axis=1) - 0.5).astype(np.int64) + 1, 0)
        bottom = np.minimum(np.floor(tris[:, :, 1].max(axis=1) - 0.5).astype(np.int64), self.size - 1)
        coef, area = _plane_coefficients(tris)
        keep = np.flatnonzero((bottom >= top) & (np.abs(area) > 1e-12))
        coef = coef[keep]
        n_rows = bottom[keep] - top[keep] + 1
        owner = np.repeat(np.arange(keep.size), n_rows)  # one entry per (triangle, row)
        row = np.repeat(top[keep] - np.cumsum(n_rows) + n_rows, n_rows) + np.arange(owner.size)
        y = row + 0.5
        lower, upper = _span_lines(coef)
        lo, up = lower[owner], upper[owner]  # (N, 3, 2)
        start = np.ceil((lo[:, :, 0] + lo[:, :, 1] * y[:, None]).max(axis=1) - 0.5)
        stop = np.floor((up[:, :, 0] + up[:, :, 1] * y[:, None]).min(axis=1) - 0.5)
        start = np.maximum(start, 0).astype(np.int64)
        counts = np.maximum(np.minimum(stop, self.size - 1).astype(np.int64) - start + 1, 0)
        depth_row = (coef[owner, 6] + coef[owner, 8] * y).astype(np.float32)  # depth at x = 0 on the row
        slope = coef[owner, 7]
        pair = np.repeat(np.arange(owner.size), counts)
        px = np.arange(pair.size) - np.repeat(np.cumsum(counts) - counts - start, counts)
        depth = depth_row[pair] + slope[pair] * (px + 0.5).astype(np.float32)
        pix = np.repeat(row * self.size, counts) + px
        nearest = np.full(self.size * self.size, -np.inf, dtype=np.float32)
        np.maximum.at(nearest, pix, depth)
        visible = np.flatnonzero(depth >= nearest[pix])
        return pix[visible], keep[owner[pair[visible]]]

    def close(self) -> None:
        pass


def _plane_coefficients(tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, 9) float32 coefficients (a, b, c) of w0, w1 and depth = a + b*x + c*y over the image
    plane for (F, 3, 3) projected triangles, and their (F,) signed doubled areas."""
    x, y, z = tris[:, :, 0], tris[:, :, 1], tris[:, :, 2]
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (y[:, 1] - y[:, 0]) * (x[:, 2] - x[:, 0])
    safe = np.where(np.abs(area) > 1e-12, area, 1.0)
    planes = []
    for j, k in ((1, 2), (2, 0)):  # w_i from the edge opposite corner i
        planes.append(((x[:, j] * y[:, k] - x[:, k] * y[:, j]) / safe, (y[:, j] - y[:, k]) / safe,
                       (x[:, k] - x[:, j]) / safe))
    (a0, b0, c0), (a1, b1, c1) = planes
    dz0, dz1 = z[:, 0] - z[:, 2], z[:, 1] - z[:, 2]  # depth = z2 + w0 dz0 + w1 dz1
    depth = (z[:, 2] + a0 * dz0 + a1 * dz1, b0 * dz0 + b1 * dz1, c0 * dz0 + c1 * dz1)
    return np.stack([a0, b0, c0, a1, b1, c1, *depth], axis=1).astype(np.float32), area


def _span_lines(coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle, the x bounds of its inside on a row as lines in y: (F, 3, 2) (alpha, beta)
    for the lower bounds (x >= alpha + beta y) and the same for the upper bounds; an edge that
    does not bound that side gets alpha = -inf (lower) / +inf (upper), beta = 0."""
    a = np.stack([coef[:, 0], coef[:, 3], 1.0 - coef[:, 0] - coef[:, 3]], axis=1).astype(np.float64)
    b = np.stack([coef[:, 1], coef[:, 4], -coef[:, 1] - coef[:, 4]], axis=1).astype(np.float64)
    c = np.stack([coef[:, 2], coef[:, 5], -coef[:, 2] - coef[:, 5]], axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # w = a + b x + c y >= -tol  <=>  x >=/<= -(a + tol + c y) / b
        alpha, beta = -(a + 1e-6) / b, -c / b
    lower = np.stack([np.where(b > 0, alpha, -np.inf), np.where(b > 0, beta, 0.0)], axis=2)
    upper = np.stack([np.where(b < 0, alpha, np.inf), np.where(b < 0, beta, 0.0)], axis=2)
    return lower, upper
