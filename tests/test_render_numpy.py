"""The numpy z-buffer rasteriser: depth order, agreement with the matplotlib painter, and the
hidden-back-face shortcut changing (almost) nothing."""

from __future__ import annotations

import numpy as np
import pytest
from _render_helpers import animated_head

from histalk_bench.rendering import backend_numpy
from histalk_bench.rendering.backend_matplotlib import MatplotlibPanelRenderer
from histalk_bench.rendering.backend_numpy import NumpyPanelRenderer
from histalk_bench.rendering.geometry import Framing, frame_meshes


def test_nearest_triangle_wins_in_either_order():
    square = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float)
    near = np.c_[square * 0.5, np.full(4, 0.5)]  # small square in front
    far = np.c_[square, np.full(4, -0.5)]  # large square behind
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    colours = np.r_[np.tile([1.0, 0, 0], (4, 1)), np.tile([0, 0, 1.0], (4, 1))]
    framing = Framing(center=np.zeros(3), half_extent=1.2)
    for order in (np.r_[near, far], np.r_[far, near]):
        swapped = order[0, 2] < 0
        rgb = colours[[4, 5, 6, 7, 0, 1, 2, 3]] if swapped else colours
        image = NumpyPanelRenderer(faces, framing, 64).render(order, rgb).astype(int)
        centre, corner = image[32, 32], image[4 + 2, 4 + 2]
        assert centre[0] > 100 and centre[2] == 0  # red: the near square
        assert corner[2] > 100 and corner[0] == 0  # blue: only the far square there
        assert (image[0, 0] == 255).all()  # background


def test_agrees_with_the_matplotlib_painter():
    _, faces, vertices = animated_head(n_frames=12, subdivisions=3)
    framing = frame_meshes([vertices], margin=1.12)
    for t in (0, 6):
        ours = NumpyPanelRenderer(faces, framing, 128).render(vertices[t]).astype(int)
        theirs = MatplotlibPanelRenderer(faces, framing, 128).render(vertices[t]).astype(int)
        difference = np.abs(ours - theirs).sum(axis=-1)  # differences: pixels on triangle edges
        assert (difference <= 30).mean() > 0.95 and (difference <= 60).mean() > 0.98
        assert (ours.sum(-1) < 700).mean() > 0.3  # the head covers the panel


def test_skipping_hidden_back_faces_changes_almost_nothing(monkeypatch):
    _, faces, vertices = animated_head(n_frames=12, subdivisions=4)
    framing = frame_meshes([vertices], margin=1.12)
    renderer = NumpyPanelRenderer(faces, framing, 256)
    fast = renderer.render(vertices[6]).copy()
    monkeypatch.setattr(backend_numpy, "_box_covered", lambda tris, table: np.zeros(len(tris), dtype=bool))
    full = renderer.render(vertices[6])
    assert (fast != full).any(axis=-1).mean() < 1e-3


def test_needs_triangles():
    with pytest.raises(ValueError, match="triangles"):
        NumpyPanelRenderer(None, Framing(np.zeros(3), 1.0), 64)
