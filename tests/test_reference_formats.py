"""Checks against the real files of the field (skipped when ../shared/reference is absent)."""

import numpy as np

from histalk_bench.datasets.common import read_mesh_faces
from histalk_bench.datasets.landmarks import from_flame_embedding
from histalk_bench.datasets.regions import PRESETS, load_regions


def test_flame_landmark_embedding_gives_68_points_on_the_face(reference):
    import trimesh

    mesh_path = reference / "vocaset" / "FLAME_sample.ply"
    faces = read_mesh_faces(mesh_path)
    vertices = np.asarray(trimesh.load(str(mesh_path), process=False, force="mesh").vertices, dtype=np.float32)
    assert faces.shape == (9976, 3) and vertices.shape == (5023, 3)
    landmarks = from_flame_embedding(reference / "vocaset" / "flame_landmarks", faces)
    assert landmarks.vertex_ids.shape == (68, 3)
    np.testing.assert_allclose(landmarks.weights.sum(1), 1.0, atol=1e-5)
    points = landmarks.apply(vertices[None])[0]
    # every landmark lies on the surface: within 1 cm of a vertex
    nearest = np.min(np.linalg.norm(vertices[None] - points[:, None], axis=-1), axis=1)
    assert nearest.max() < 0.01
    # the 17 contour points come first (jaw line: lower than the eyes)
    assert points[:17, 1].mean() < points[36:48, 1].mean()


def test_region_presets_match_the_published_files(reference):
    biwi = load_regions(reference / "biwi" / "regions", preset="codetalker-biwi")
    assert len(biwi["lip"].ids) == 4996 and len(biwi["upper_face"].ids) == 7784
    assert biwi["lip"].sha256 == PRESETS["codetalker-biwi"].sha256["lip"]
    voca = load_regions(reference / "vocaset" / "regions_facediffuser", preset="facediffuser-vocaset")
    assert len(voca["lip"].ids) == 428 and len(voca["upper_face"].ids) == 1501
    masks = load_regions(reference / "vocaset" / "FLAME_masks.pkl", preset="flame-masks")
    assert len(masks["lip"].ids) == 250  # 254 entries, 250 unique


def test_vocaset_templates_have_flame_topology(reference):
    import trimesh

    for path in sorted((reference / "vocaset" / "templates_ply").glob("*.ply"))[:3]:
        mesh = trimesh.load(str(path), process=False, force="mesh")
        assert np.asarray(mesh.vertices).shape == (5023, 3)
