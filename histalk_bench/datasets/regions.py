"""Lip and upper-face vertex regions: index files, FLAME masks, and named presets pinned by sha256.

Results are only comparable when the region files are identical, so every region stored in a
cache carries the sha256 of the file it came from, and presets check it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..common.digest import file_sha256
from ..common.errors import UserError
from ..common.safe_pickle import load_pickle


@dataclass(frozen=True)
class RegionPreset:
    """A published region protocol: file names and their pinned sha256 digests."""

    name: str
    dataset: str
    files: dict[str, str]  # role ('lip', 'upper_face', 'masks') -> expected file name
    sha256: dict[str, str]
    origin: str


PRESETS = {
    "codetalker-biwi": RegionPreset(
        "codetalker-biwi", "biwi", {"lip": "lve.txt", "upper_face": "fdd.txt"},
        {"lip": "bf9c9202a73154cab9b7635d42c05effc30078b2b9aa3c7dc49367cff80cc767",
         "upper_face": "5a0b657fcbc1f5cbdf4dddfc9a0a883e4644408006fec699e27ade2634124198"},
        "CodeTalker repository, BIWI/regions/ (4,996 lip and 7,784 upper-face ids)"),
    "facediffuser-vocaset": RegionPreset(
        "facediffuser-vocaset", "vocaset", {"lip": "lve.txt", "upper_face": "fdd.txt"},
        {"lip": "fa04be39a330605fddbf5ef6b321fd8f9c0c677d5710d092f062e541e72f6bcd",
         "upper_face": "40dcbb3cf7e2c15293c8d015b1cc6b2a355d9052ef8208effddda7dfa913b9ea"},
        "FaceDiffuser repository, data/vocaset/regions/ (428 lip and 1,501 upper-face ids)"),
    "flame-masks": RegionPreset(
        "flame-masks", "vocaset", {"masks": "FLAME_masks.pkl"},
        {"masks": "ccefbe1ac0774ff78c68caf2c627b4abc067a6555ebeb0be5d5b0812366ab492"},
        "FLAME_masks.pkl from the FLAME website (lips; forehead + eye_region as upper face)"),
}


@dataclass
class Region:
    ids: np.ndarray  # int64 vertex ids, sorted, unique
    source: str
    sha256: str


def read_index_file(path: str | os.PathLike) -> np.ndarray:
    """Comma- or whitespace-separated 0-based vertex ids."""
    if not os.path.exists(path):
        raise UserError("region file not found", path)
    text = Path(path).read_text().replace(",", " ").split()
    try:
        return np.unique(np.asarray([int(token) for token in text], dtype=np.int64))
    except ValueError:
        raise UserError("region file must hold integer vertex ids separated by ', '", path) from None


def _masks_regions(path: Path) -> dict[str, Region]:
    masks = load_pickle(path)
    if not isinstance(masks, dict) or "lips" not in masks:
        raise UserError("FLAME masks pickle has no 'lips' entry", path)
    for key in ("forehead", "eye_region"):
        if key not in masks:
            raise UserError(f"FLAME masks pickle has no '{key}' entry", path)
    digest = file_sha256(path)
    lip = np.unique(np.asarray(masks["lips"], dtype=np.int64))
    upper = np.unique(np.concatenate([np.asarray(masks["forehead"]), np.asarray(masks["eye_region"])]).astype(np.int64))
    return {"lip": Region(lip, f"{path.name}:lips", digest),
            "upper_face": Region(upper, f"{path.name}:forehead+eye_region", digest)}


def load_regions(spec: str | os.PathLike, preset: str | None = None) -> dict[str, Region]:
    """Regions from ``spec``: a FLAME_masks.pkl, a directory holding lve.txt + fdd.txt, or
    'LIP_FILE,UPPER_FILE'.  With ``preset``, every file's sha256 must match the pinned digest."""
    spec = str(spec)
    if "," in spec:
        lip_path, upper_path = (Path(p) for p in spec.split(",", 1))
    elif Path(spec).is_dir():
        lip_path, upper_path = Path(spec) / "lve.txt", Path(spec) / "fdd.txt"
    elif spec.endswith(".pkl"):
        regions = _masks_regions(Path(spec))
        _check_preset(preset, {"masks": Path(spec)})
        return regions
    else:
        raise UserError("--regions must be a FLAME_masks.pkl, a folder with lve.txt and fdd.txt, or 'LIP,UPPER'", spec)
    _check_preset(preset, {"lip": lip_path, "upper_face": upper_path})
    return {"lip": Region(read_index_file(lip_path), lip_path.name, file_sha256(lip_path)),
            "upper_face": Region(read_index_file(upper_path), upper_path.name, file_sha256(upper_path))}


def _check_preset(preset: str | None, files: dict[str, Path]) -> None:
    if preset is None:
        return
    if preset not in PRESETS:
        raise UserError(f"unknown regions preset '{preset}' (known: {', '.join(sorted(PRESETS))})")
    expected = PRESETS[preset]
    for role, path in files.items():
        if role not in expected.sha256:
            raise UserError(f"preset '{preset}' expects {', '.join(expected.files.values())}", path)
        digest = file_sha256(path)
        if digest != expected.sha256[role]:
            raise UserError(f"sha256 {digest[:12]}... does not match preset '{preset}' "
                            f"({expected.sha256[role][:12]}...; expected {expected.origin})", path)


def check_in_range(regions: dict[str, Region], n_vertices: int) -> None:
    """Every id must index a vertex of the mesh."""
    for name, region in regions.items():
        if region.ids.size == 0:
            raise UserError(f"region '{name}' is empty", region.source)
        if region.ids.min() < 0 or region.ids.max() >= n_vertices:
            raise UserError(f"region '{name}' has vertex id {int(region.ids.max())} out of range "
                            f"for a mesh of {n_vertices} vertices", region.source)
