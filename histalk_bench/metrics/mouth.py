"""Mouth opening, defined once (version :data:`MOUTH_VERSION`).

opening(t) = mean over P matched pairs p of ||U_p(t) - L_p(t)||, where U_p / L_p are upper and
lower inner-lip points, each a weighted sum of vertices (data units).

Where the pairs come from (first that applies):
1. ``flame-68-inner-lips``: the cache's landmark map is the FLAME barycentric embedding (68 points,
   or the 51 static points iBUG 17-67); the iBUG-68 inner-lip landmarks 61, 62, 63 (upper) pair
   with 67, 66, 65 (lower).
2. ``/regions/lip_pairs`` stored by ``prepare`` (rule :data:`PAIR_RULE`, sha256 of the pairs).
3. The same rule applied at evaluation time to a cache written before lip pairs were stored.

Rule ``template-lip-region-v1``: :mod:`histalk_bench.metrics.lip_pairs` (mouth slit of the mesh, else
the crease where closed lips meet on the centre line, else the lip region's median height), on the
mean of the cache's templates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .lip_pairs import select_lip_pairs

MOUTH_VERSION = "1.0"
PAIR_RULE = "template-lip-region-v1"
FLAME_RULE = "flame-68-inner-lips"
FLAME_INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))


@dataclass
class MouthPoints:
    """Upper/lower inner-lip points: ids and weights (P, K); ``source`` names the rule."""

    upper_ids: np.ndarray
    upper_weights: np.ndarray
    lower_ids: np.ndarray
    lower_weights: np.ndarray
    source: str
    sha256: str

    def opening(self, vertices: np.ndarray) -> np.ndarray:
        """(T, V, 3) -> (T,) float64 mean distance between matched upper and lower points."""
        vertices = np.asarray(vertices, dtype=np.float64)
        upper = np.einsum("tpkc,pk->tpc", vertices[:, self.upper_ids], self.upper_weights)
        lower = np.einsum("tpkc,pk->tpc", vertices[:, self.lower_ids], self.lower_weights)
        return np.linalg.norm(upper - lower, axis=-1).mean(axis=1)

    def info(self) -> dict:
        return {"source": self.source, "sha256": self.sha256, "n_pairs": int(self.upper_ids.shape[0]),
                "version": MOUTH_VERSION}


def pairs_digest(pairs: np.ndarray, rule: str = PAIR_RULE) -> str:
    """sha256 of the rule name and the (P, 2) int64 little-endian pairs."""
    data = np.ascontiguousarray(np.asarray(pairs, dtype="<i8"))
    return hashlib.sha256(rule.encode() + b"\0" + data.tobytes()).hexdigest()


def from_pairs(pairs: np.ndarray, source: str, sha256: str) -> MouthPoints:
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    ones = np.ones((len(pairs), 1), np.float64)
    return MouthPoints(pairs[:, :1], ones, pairs[:, 1:], ones, source, sha256)


def flame_landmark_offset(landmark_map, kind: str) -> int | None:
    """Row of iBUG landmark 0 in a FLAME barycentric map: 0 for 68 rows (contour + static), -17 for
    the 51 static rows alone (iBUG 17-67); None when the map is not a FLAME embedding."""
    if landmark_map is None or kind != "barycentric":
        return None
    return {68: 0, 51: -17}.get(int(landmark_map[0].shape[0]))


def from_flame_landmarks(vertex_ids: np.ndarray, weights: np.ndarray, offset: int = 0) -> MouthPoints:
    """Inner-lip pairs of the FLAME landmark embedding ((L, K) ids and weights; ``offset`` from
    :func:`flame_landmark_offset`)."""
    upper, lower = (np.asarray(index) + offset for index in zip(*FLAME_INNER_LIP_PAIRS))
    digest = hashlib.sha256(FLAME_RULE.encode() + np.ascontiguousarray(vertex_ids[np.r_[upper, lower]], "<i8").tobytes()
                            + np.ascontiguousarray(weights[np.r_[upper, lower]], "<f4").tobytes()).hexdigest()
    return MouthPoints(vertex_ids[upper], weights[upper].astype(np.float64), vertex_ids[lower],
                       weights[lower].astype(np.float64), FLAME_RULE, digest)


def mean_template(templates: list[np.ndarray]) -> np.ndarray:
    return np.mean(np.stack([np.asarray(t, np.float64) for t in templates]), axis=0)


def mouth_points(cache) -> MouthPoints | None:
    """The cache's mouth points (module docstring for the order), or None without a lip region."""
    landmark_map = cache.landmark_map()
    offset = flame_landmark_offset(landmark_map, cache.landmark_map_info().get("kind", ""))
    if offset is not None:
        return from_flame_landmarks(*landmark_map, offset=offset)
    regions = cache.regions()
    if "lip_pairs" in regions:
        info = cache.region_info()["lip_pairs"]
        return from_pairs(regions["lip_pairs"], info["source"], info["sha256"])
    if "lip" not in regions or not cache.template_subjects():
        return None
    template = mean_template([cache.template(s) for s in cache.template_subjects()])
    pairs = select_lip_pairs(template, regions["lip"], cache.faces)
    return from_pairs(pairs, f"{PAIR_RULE} (computed at evaluation)", pairs_digest(pairs))
