"""CPU renderer without OpenGL: orthographic projection of shaded triangles drawn back to
front (painter's algorithm) into a matplotlib Agg canvas.  Each triangle gets the mean of its
corners' Lambert shading (from vertex normals), which looks smooth at a flat-shading cost."""

from __future__ import annotations

import numpy as np

from .colors import SKIN_RGB
from .geometry import Framing, lambert, vertex_normals


class MatplotlibPanelRenderer:
    """Renders one (V, 3) mesh to a (size, size, 3) uint8 image.

    faces: (F, 3) int triangles, or None to draw the vertices as a point cloud."""

    name = "matplotlib"

    def __init__(self, faces: np.ndarray | None, framing: Framing, size: int):
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 (lazy: matplotlib: 0.1-0.4 s)
        from matplotlib.collections import PolyCollection  # noqa: PLC0415 (lazy: matplotlib: 0.1-0.4 s)
        from matplotlib.figure import Figure  # noqa: PLC0415 (lazy: matplotlib: 0.1-0.4 s)

        self.faces = None if faces is None else np.asarray(faces, dtype=np.int64)
        self.size = int(size)
        dpi = 100
        self.figure = Figure(figsize=(self.size / dpi, self.size / dpi), dpi=dpi, facecolor="white")
        self.canvas = FigureCanvasAgg(self.figure)
        axes = self.figure.add_axes((0, 0, 1, 1))
        axes.set_axis_off()
        c, h = framing.center, framing.half_extent
        axes.set_xlim(c[0] - h, c[0] + h)
        axes.set_ylim(c[1] - h, c[1] + h)
        axes.set_aspect("equal")
        if self.faces is not None:
            self.artist = PolyCollection([], closed=True, linewidths=0, antialiaseds=False)
            axes.add_collection(self.artist)
        else:
            self.artist = axes.scatter([], [], s=max(1.0, self.size / 256.0), linewidths=0)

    def render(self, vertices: np.ndarray, vertex_rgb: np.ndarray | None = None) -> np.ndarray:
        """vertices: (V, 3); vertex_rgb: (V, 3) colours in [0, 1] or None for plain skin."""
        vertices = np.asarray(vertices, dtype=np.float64)
        base = np.broadcast_to(SKIN_RGB, vertices.shape) if vertex_rgb is None else vertex_rgb
        if self.faces is None:
            order = np.argsort(vertices[:, 2])
            self.artist.set_offsets(vertices[order, :2])
            self.artist.set_facecolors(np.clip(base[order], 0, 1))
        else:
            shaded = base * lambert(vertex_normals(vertices, self.faces))[:, None]
            colours = shaded[self.faces].mean(axis=1)
            order = np.argsort(vertices[self.faces, 2].mean(axis=1))  # far to near
            faces = self.faces[order]
            self.artist.set_verts(vertices[faces][:, :, :2])
            rgb = np.clip(colours[order], 0, 1)
            self.artist.set_facecolors(rgb)
        self.canvas.draw()
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()

    def close(self) -> None:
        self.figure.clear()
