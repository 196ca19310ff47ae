"""Sparse landmarks as a fixed linear map of the vertices.

A landmark map is (vertex_ids (L, K), weights (L, K)): landmark l = sum_k w[l,k] * v[ids[l,k]].
Sources: the FLAME 68-point barycentric embedding (17 contour points from the frontal bin of
the dynamic embedding, then 51 static points), a vertex-id list, or a reproducible selection
(farthest-point sampling weighted by motion energy) for meshes with no published landmarks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..common.errors import UserError
from ..common.safe_pickle import load_npy_object, load_pickle


@dataclass
class LandmarkMap:
    vertex_ids: np.ndarray  # (L, K) int64
    weights: np.ndarray  # (L, K) float32
    source: str
    kind: str  # 'barycentric', 'vertex_ids' or 'selected'

    def apply(self, vertices: np.ndarray) -> np.ndarray:
        """(T, V, 3) -> (T, L, 3) float32."""
        return apply_landmark_map(vertices, (self.vertex_ids, self.weights))


def apply_landmark_map(vertices: np.ndarray, landmark_map: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The one place a landmark map is applied: (T, V, 3) vertices (or displacements) and
    (vertex_ids (L, K), weights (L, K)) -> (T, L, 3) float32, landmark l = sum_k w[l,k] * v[ids[l,k]]."""
    vertex_ids, weights = landmark_map
    gathered = np.asarray(vertices)[:, vertex_ids]  # (T, L, K, 3)
    return np.einsum("tlkc,lk->tlc", gathered, weights).astype(np.float32)


def from_vertex_ids(ids, source: str, kind: str = "vertex_ids") -> LandmarkMap:
    ids = np.asarray(ids, dtype=np.int64).reshape(-1, 1)
    return LandmarkMap(ids, np.ones(ids.shape, np.float32), source, kind)


def from_flame_embedding(folder: str | os.PathLike, faces: np.ndarray | None) -> LandmarkMap:
    """The FLAME barycentric embedding in ``folder`` (flame_static_embedding.pkl and optionally
    flame_dynamic_embedding.npy); needs the FLAME faces (e.g. from ``--mesh FLAME_sample.ply``)."""
    folder = Path(folder)
    static_path = folder / "flame_static_embedding.pkl"
    if faces is None:
        raise UserError("a FLAME landmark embedding needs the mesh faces: pass --mesh FLAME_sample.ply", static_path)
    static = load_pickle(static_path)
    try:
        face_idx = [np.asarray(static["lmk_face_idx"], dtype=np.int64)]
        coords = [np.asarray(static["lmk_b_coords"], dtype=np.float64)]
    except (KeyError, TypeError):
        raise UserError("expected keys lmk_face_idx and lmk_b_coords", static_path) from None
    dynamic_path = folder / "flame_dynamic_embedding.npy"
    if dynamic_path.exists():
        dynamic = load_npy_object(dynamic_path)
        if isinstance(dynamic, np.ndarray) and dynamic.dtype == object:
            dynamic = dynamic.item()
        contour_idx = np.asarray(dynamic["lmk_face_idx"], dtype=np.int64)
        contour_coords = np.asarray(dynamic["lmk_b_coords"], dtype=np.float64)
        frontal = contour_idx.shape[0] // 2  # yaw bins -39..39 degrees: the middle one is frontal
        face_idx.insert(0, contour_idx[frontal])
        coords.insert(0, contour_coords[frontal])
    face_idx_all = np.concatenate(face_idx)
    if face_idx_all.max() >= len(faces):
        raise UserError(f"landmark face index {int(face_idx_all.max())} out of range for {len(faces)} faces", static_path)
    vertex_ids = np.asarray(faces, dtype=np.int64)[face_idx_all]
    return LandmarkMap(vertex_ids, np.concatenate(coords).astype(np.float32), str(folder.name), "barycentric")


def select_by_motion(energy: np.ndarray, template: np.ndarray, candidates: np.ndarray, n: int = 68) -> LandmarkMap:
    """Farthest-point sampling over ``candidates`` weighted by per-vertex motion ``energy``.

    Deterministic: starts at the most-moving candidate and repeatedly adds the candidate that
    maximises sqrt(energy) * distance to the chosen set.
    """
    candidates = np.unique(np.asarray(candidates, dtype=np.int64))
    n = min(n, len(candidates))
    points = template[candidates].astype(np.float64)
    weight = np.sqrt(np.maximum(energy[candidates], 0)) + 1e-12
    chosen = [int(np.argmax(weight))]
    distance = np.linalg.norm(points - points[chosen[0]], axis=1)
    for _ in range(n - 1):
        nxt = int(np.argmax(distance * weight))
        chosen.append(nxt)
        distance = np.minimum(distance, np.linalg.norm(points - points[nxt], axis=1))
    return from_vertex_ids(np.sort(candidates[chosen]), source=f"fps-motion-{n}", kind="selected")


def load_landmark_map(spec: str | os.PathLike, faces: np.ndarray | None) -> LandmarkMap:
    """``spec``: a folder with the FLAME embedding, or a text file of vertex ids."""
    path = Path(spec)
    if path.is_dir():
        return from_flame_embedding(path, faces)
    if not path.exists():
        raise UserError("landmark file not found", path)
    tokens = path.read_text().replace(",", " ").split()
    try:
        return from_vertex_ids([int(t) for t in tokens], source=path.name)
    except ValueError:
        raise UserError("landmark file must hold integer vertex ids", path) from None


def check_map(landmarks: LandmarkMap, n_vertices: int) -> None:
    if landmarks.vertex_ids.size == 0 or landmarks.vertex_ids.max() >= n_vertices or landmarks.vertex_ids.min() < 0:
        raise UserError(f"landmark vertex ids out of range for a mesh of {n_vertices} vertices", landmarks.source)
