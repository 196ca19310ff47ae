"""CPU z-buffer rasteriser in numpy (no OpenGL, no matplotlib): orthographic front view,
per-pixel depth test, each triangle filled with the mean of its corners' Lambert shading
(as the matplotlib painter does).  The pixel centres of every triangle's bounding box are tested in one
vectorised pass with the triangle's barycentric and depth planes; ``np.maximum.at`` keeps the
nearest surface per pixel.  Two-sided, like the matplotlib painter, and several times faster."""

from __future__ import annotations

import numpy as np

from .colors import SKIN_RGB
from .geometry import Framing, lambert, vertex_normals

_BLOCK = 4  # pixels per side of the blocks used to find hidden back faces


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
        visible surface (two-sided: the nearest of all triangles per pixel).

        Front-facing triangles are rasterised first; a back-facing one only where its bounding
        box is not entirely covered by them (through the mouth, at the silhouette): hidden back
        faces, half of a closed head, cost nothing."""
        area = _signed_area(tris)
        front = np.flatnonzero(area < 0)  # y points down in the image: counter-clockwise seen from +z
        pix, depth, tri = self._candidates(tris, front, area)
        back = np.flatnonzero(area > 0)
        back = back[~_box_covered(tris[back], self._block_table(pix))]
        more = self._candidates(tris, back, area)
        pix, depth, tri = (np.concatenate(pair) for pair in zip((pix, depth, tri), more))
        nearest = np.full(self.size * self.size, -np.inf, dtype=np.float32)
        np.maximum.at(nearest, pix, depth)
        visible = np.flatnonzero(depth >= nearest[pix])
        return pix[visible], tri[visible]

    def _block_table(self, pix: np.ndarray) -> np.ndarray:
        """Summed-area table (blocks+1, blocks+1) of the _BLOCK x _BLOCK pixel blocks whose every
        pixel is in ``pix`` (a coarse table: cheap, and only ever too cautious)."""
        blocks = -(-self.size // _BLOCK)
        flat = np.zeros((blocks * _BLOCK, blocks * _BLOCK), dtype=bool)
        flat[pix // self.size, pix % self.size] = True
        full = flat.reshape(blocks, _BLOCK, blocks, _BLOCK).all(axis=(1, 3))
        table = np.zeros((blocks + 1, blocks + 1), dtype=np.int32)
        table[1:, 1:] = full.cumsum(0).cumsum(1)
        return table

    def _candidates(self, tris: np.ndarray, ids: np.ndarray, area: np.ndarray):
        """(pixel ids, depths, triangle ids) of the pixel centres inside triangles ``ids``.
        Scanline: each (triangle, pixel row) pair gets the exact span of pixel centres inside."""
        sub = tris[ids]
        top = np.maximum(np.floor(sub[:, :, 1].min(axis=1) - 0.5).astype(np.int64) + 1, 0)
        bottom = np.minimum(np.floor(sub[:, :, 1].max(axis=1) - 0.5).astype(np.int64), self.size - 1)
        keep = np.flatnonzero((bottom >= top) & (np.abs(area[ids]) > 1e-12))
        coef = _plane_coefficients(sub[keep])
        n_rows = bottom[keep] - top[keep] + 1
        owner = np.repeat(np.arange(keep.size), n_rows)  # one entry per (triangle, row)
        row = np.repeat(top[keep] - np.cumsum(n_rows) + n_rows, n_rows) + np.arange(owner.size)
        y = row + 0.5
        lower, upper = _span_lines(coef)
        start = np.ceil(_envelope(lower, owner, y, np.maximum) - 0.5)
        stop = np.floor(_envelope(upper, owner, y, np.minimum) - 0.5)
        start = np.maximum(start, 0).astype(np.int64)
        counts = np.maximum(np.minimum(stop, self.size - 1).astype(np.int64) - start + 1, 0)
        depth_row = (coef[owner, 6] + coef[owner, 8] * y).astype(np.float32)  # depth at x = 0 on the row
        slope = coef[owner, 7]
        pair = np.repeat(np.arange(owner.size), counts)
        px = np.arange(pair.size) - np.repeat(np.cumsum(counts) - counts - start, counts)
        depth = depth_row[pair] + slope[pair] * (px + 0.5).astype(np.float32)
        pix = np.repeat(row * self.size, counts) + px
        return pix, depth, ids[keep][owner[pair]]

    def close(self) -> None:
        pass


def _signed_area(tris: np.ndarray) -> np.ndarray:
    """(F,) twice the signed image-plane area of (F, 3, 3) projected triangles."""
    x, y = tris[:, :, 0], tris[:, :, 1]
    return (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (y[:, 1] - y[:, 0]) * (x[:, 2] - x[:, 0])


def _box_covered(tris: np.ndarray, table: np.ndarray) -> np.ndarray:
    """(F,) True where every pixel block the triangle's bounding box touches is fully covered,
    according to the summed-area table of covered blocks (see ``_block_table``)."""
    blocks = table.shape[0] - 1
    low = np.floor(tris[:, :, :2].min(axis=1) - 0.5).astype(np.int64) + 1  # first pixel centre inside the box
    high = np.floor(tris[:, :, :2].max(axis=1) - 0.5).astype(np.int64)  # last one
    b0 = np.clip(low // _BLOCK, 0, blocks)
    b1 = np.clip(high // _BLOCK + 1, 0, blocks)
    inside = table[b1[:, 1], b1[:, 0]] - table[b0[:, 1], b1[:, 0]] - table[b1[:, 1], b0[:, 0]] + table[b0[:, 1], b0[:, 0]]
    return (inside == (b1[:, 0] - b0[:, 0]) * (b1[:, 1] - b0[:, 1])) & (high >= low).all(axis=1)


def _plane_coefficients(tris: np.ndarray) -> np.ndarray:
    """(F, 9) float32 coefficients (a, b, c) of w0, w1 and depth = a + b*x + c*y over the image
    plane for (F, 3, 3) projected triangles."""
    x, y, z = tris[:, :, 0], tris[:, :, 1], tris[:, :, 2]
    area = _signed_area(tris)
    safe = np.where(np.abs(area) > 1e-12, area, 1.0)
    planes = []
    for j, k in ((1, 2), (2, 0)):  # w_i from the edge opposite corner i
        planes.append(((x[:, j] * y[:, k] - x[:, k] * y[:, j]) / safe, (y[:, j] - y[:, k]) / safe,
                       (x[:, k] - x[:, j]) / safe))
    (a0, b0, c0), (a1, b1, c1) = planes
    dz0, dz1 = z[:, 0] - z[:, 2], z[:, 1] - z[:, 2]  # depth = z2 + w0 dz0 + w1 dz1
    depth = (z[:, 2] + a0 * dz0 + a1 * dz1, b0 * dz0 + b1 * dz1, c0 * dz0 + c1 * dz1)
    return np.stack([a0, b0, c0, a1, b1, c1, *depth], axis=1).astype(np.float32)


def _envelope(lines: np.ndarray, owner: np.ndarray, y: np.ndarray, pick) -> np.ndarray:
    """pick (np.maximum / np.minimum) over the 3 edges of alpha + beta * y, per (triangle, row)."""
    out = None
    for edge in range(3):  # 1-D gathers: much faster than indexing the (F, 3, 2) array by rows
        value = lines[:, edge, 0][owner] + lines[:, edge, 1][owner] * y
        out = value if out is None else pick(out, value)
    return out


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
