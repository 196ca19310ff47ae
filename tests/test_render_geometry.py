"""render building blocks: normals, framing, error colours, layout sizes (pure numpy, fast)."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from histalk_bench.rendering.colors import choose_scale, error_rgb, vertex_errors
from histalk_bench.rendering.geometry import frame_meshes, lambert, vertex_normals
from histalk_bench.rendering.layout import PanelLayout


def test_vertex_normals_of_a_sphere_point_outwards():
    sphere = trimesh.creation.icosphere(subdivisions=3)
    normals = vertex_normals(sphere.vertices.astype(np.float32), sphere.faces)
    radial = sphere.vertices / np.linalg.norm(sphere.vertices, axis=1, keepdims=True)
    assert normals.shape == sphere.vertices.shape
    assert np.allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    assert (normals * radial).sum(axis=1).min() > 0.99


def test_lambert_is_two_sided_and_bounded():
    normals = np.array([[0, 0, 1.0], [0, 0, -1.0], [1.0, 0, 0]])
    shade = lambert(normals)
    assert shade[0] == pytest.approx(shade[1]) and shade[0] > shade[2] >= 0.35 and shade.max() <= 1.0


def test_framing_holds_every_panel():
    a = np.zeros((2, 3, 3))
    b = np.array([[[1.0, 2.0, 0.0], [-1.0, -2.0, 0.0], [0.0, 0.0, 5.0]]])
    framing = frame_meshes([a, b], margin=1.0)
    assert np.allclose(framing.center, [0.0, 0.0, 2.5]) and framing.half_extent == pytest.approx(2.0)


def test_error_colours_and_scale():
    gt = np.zeros((2, 4, 3))
    pred = gt.copy()
    pred[:, 1, 0] = 0.003
    errors = vertex_errors(pred, gt)
    assert errors.shape == (2, 4) and errors[0, 1] == pytest.approx(0.003)
    scale = choose_scale([errors], "vocaset", vmax=0.003)
    assert scale.unit == "mm" and scale.display_factor == 1000.0
    rgb = error_rgb(errors, scale)
    assert rgb.shape == (2, 4, 3)
    assert rgb[0, 0].min() > 0.7 and rgb[0, 1, 0] - rgb[0, 1, 1] > 0.5  # pale at 0, red at the top
    assert choose_scale([errors], "biwi").unit == "units"


def test_layout_is_even_and_places_panels():
    layout = PanelLayout(["ground truth", "model"], 65)
    height, width = layout.shape
    assert height % 2 == 0 and width % 2 == 0 and width >= 130
    panel = np.zeros((65, 65, 3), dtype=np.uint8)
    frame = layout.compose([panel, panel + 7])
    top = layout.label_height
    assert (frame[top: top + 65, :65] == 0).all() and (frame[top: top + 65, 65:130] == 7).all()
    assert (frame[:top] < 128).any()  # the labels are drawn
