"""Pieces every recipe needs: templates, synthetic-corpus info, meshes, regions and landmarks options."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from ..common.digest import file_sha256
from ..common.errors import UserError
from ..common.safe_pickle import load_pickle
from .landmarks import LandmarkMap, from_vertex_ids, load_landmark_map
from .regions import Region, load_regions, read_index_file


def require(path: Path, what: str) -> Path:
    if not path.exists():
        raise UserError(f"{what} not found", path)
    return path


def read_synth_info(root: Path) -> dict | None:
    """The synthetic corpus's ``synth_info.json`` (vertex count, faces, regions, landmarks) or None."""
    path = root / "synth_info.json"
    return json.loads(path.read_text()) if path.exists() else None


def read_templates(path: Path) -> dict[str, np.ndarray]:
    """``templates.pkl``: dict[subject] -> (V, 3) float32."""
    templates = load_pickle(require(path, "templates file"))
    if not isinstance(templates, dict) or not templates:
        raise UserError("expected a dict of subject -> (V, 3) template", path)
    out = {}
    for subject, template in templates.items():
        array = np.asarray(template, dtype=np.float32)
        if array.size % 3:
            raise UserError(f"template of '{subject}' is not (V, 3)", path)
        out[str(subject)] = array.reshape(-1, 3)
    return out


def read_mesh_faces(path: str | os.PathLike) -> np.ndarray:
    """(F, 3) int32 triangle faces of a PLY/OBJ mesh (trimesh) or a faces .npy."""
    path = Path(path)
    require(path, "mesh file")
    try:
        if path.suffix == ".npy":
            return np.load(path).astype(np.int32)
        import trimesh  # noqa: PLC0415 (lazy: trimesh ~0.24 s, only for a mesh file)

        mesh = trimesh.load(str(path), process=False, force="mesh")
        return np.asarray(mesh.faces, dtype=np.int32).reshape(-1, 3)
    except Exception as exc:  # any parser failure is a bad input file, reported in one line
        raise UserError(f"not a readable mesh ({exc.__class__.__name__})", path) from None


def resolve_regions(root: Path, info: dict | None, spec: str | None, preset: str | None) -> dict[str, Region]:
    """--regions / --regions-preset, else the synthetic corpus's own files, else none."""
    if spec:
        return load_regions(spec, preset)
    if preset:
        raise UserError(f"--regions-preset {preset} needs --regions PATH to the file(s) to check")
    if info and "regions" in info:
        regions = {}
        for name, rel in info["regions"].items():
            path = root / rel
            regions[name] = Region(read_index_file(path), path.name, file_sha256(path))
        return regions
    return {}


def resolve_landmarks(root: Path, info: dict | None, spec: str | None, faces: np.ndarray | None) -> LandmarkMap | None:
    """--landmarks (FLAME embedding folder or id file), else the synthetic corpus's ids, else None
    (then the pipeline selects landmarks by motion energy)."""
    if spec:
        return load_landmark_map(spec, faces)
    if info and info.get("landmark_vertex_ids"):
        return from_vertex_ids(info["landmark_vertex_ids"], source="synth_info.json")
    return None


def faces_for(root: Path, info: dict | None, mesh: str | None, n_vertices: int) -> np.ndarray | None:
    """(F, 3) int32 faces from ``--mesh``, else the synthetic corpus's faces file, else None."""
    if mesh:
        faces, source = read_mesh_faces(mesh), Path(mesh)
    elif info and info.get("faces_file"):
        source = root / info["faces_file"]
        faces = np.load(require(source, "faces file")).astype(np.int32)
    else:
        return None
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.size == 0:
        raise UserError(f"expected triangle faces (F, 3), got shape {tuple(faces.shape)}", source)
    if faces.min() < 0 or faces.max() >= n_vertices:
        raise UserError(f"mesh faces use vertex {int(faces.max())}, but the dataset has {n_vertices} vertices "
                        "(a mesh of another topology?)", source)
    return faces


def numbered_lines(path: Path) -> dict[int, str]:
    """Transcript lines: 'N. text' numbered lines, or plain lines numbered from 1."""
    out = {}
    for index, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        match = re.match(r"^(\d+)[.)]\s*(.*)$", line)
        if match:
            out[int(match.group(1))] = match.group(2).strip()
        else:
            out[index] = line
    return out


def select_sources(sources: list, subjects: list[str] | None, limit: int | None, root: Path) -> list:
    """Keep the sequences of ``subjects`` (every name must exist in the release), then the first ``limit``."""
    if subjects:
        present = {s.subject for s in sources}
        unknown = [name for name in subjects if name not in present]
        if unknown:
            raise UserError(f"--subjects: no sequences for {', '.join(unknown)} (present: {', '.join(sorted(present))})", root)
        sources = [s for s in sources if s.subject in set(subjects)]
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}", root)
    return sources[:limit] if limit else sources
