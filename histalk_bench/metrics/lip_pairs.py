"""Rule ``template-lip-region-v1``: upper/lower inner-lip vertex pairs from a template and its lip
region, for meshes without the FLAME landmark embedding (BIWI, the synthetic faces).

Axes: x across the face, y up, z out of the face (VOCASET/FLAME, BIWI and the synthetic corpus).
1. The mouth line: a height ``split`` and the candidate vertices, first that applies:
   a. *slit*: the lip-region vertices on an inner boundary loop of the mesh (a hole: edges used by
      one triangle, in a loop other than the longest, which is the outer border), when the mesh has
      faces and at least two of them lie on each side of their median height; split = that median;
   b. *groove*: on the centre column (the 5 % of lip-region vertices nearest the centre x, at least
      5), sorted by height, the vertex lying deepest below the lower of the highest z below it and
      the highest z above it (the crease where closed lips meet); split = its height; candidates:
      the whole lip region;
   c. otherwise the median height of the lip region, candidates: the whole lip region.
2. For each target x in centre + (-0.1, 0, +0.1) x width (centre: median x of the lip region, width:
   its 5th-95th percentile range of x) the upper point is the candidate above the split minimising
   |x - target| + (y - split), the lower point the candidate below minimising |x - target| +
   (split - y); ties go to the lowest id; a repeated pair is kept once.
"""

from __future__ import annotations

import numpy as np

TARGET_OFFSETS = (-0.1, 0.0, 0.1)
COLUMN_SHARE = 0.05


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Vertex ids of each connected set of boundary edges (edges used by one triangle), largest first."""
    faces = np.asarray(faces, dtype=np.int64)
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    boundary = unique[counts == 1]
    parent = {int(v): int(v) for v in np.unique(boundary)}

    def root(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for a, b in boundary.tolist():
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for v in sorted(parent):
        groups.setdefault(root(v), []).append(v)
    return sorted((np.asarray(g, dtype=np.int64) for g in groups.values()), key=lambda g: (-len(g), int(g[0])))


def _slit(template: np.ndarray, lip_ids: np.ndarray, faces) -> tuple[float, np.ndarray] | None:
    if faces is None or len(faces) == 0:
        return None
    loops = boundary_loops(faces)
    holes = np.concatenate(loops[1:]) if len(loops) > 1 else np.zeros(0, np.int64)
    slit = np.intersect1d(lip_ids, holes)
    if slit.size < 4:
        return None
    split = float(np.median(template[slit, 1]))
    if min((template[slit, 1] > split).sum(), (template[slit, 1] <= split).sum()) < 2:
        return None
    return split, slit


def _groove(template: np.ndarray, lip_ids: np.ndarray, centre: float) -> float | None:
    n = max(5, int(np.ceil(COLUMN_SHARE * lip_ids.size)))
    column = lip_ids[np.argsort(np.abs(template[lip_ids, 0] - centre), kind="stable")[:n]]
    column = column[np.argsort(template[column, 1], kind="stable")]
    z = template[column, 2]
    if z.size < 3:
        return None
    below = np.maximum.accumulate(z)[:-2]  # highest z below each interior vertex
    above = np.maximum.accumulate(z[::-1])[::-1][2:]  # highest z above it
    depth = np.minimum(below, above) - z[1:-1]
    if depth.max() <= 0:
        return None
    return float(template[column[1 + int(np.argmax(depth))], 1])


def mouth_line(template: np.ndarray, lip_ids: np.ndarray, faces=None) -> tuple[float, np.ndarray, str]:
    """(split height, candidate ids, 'slit' | 'groove' | 'median') by step 1 of the rule."""
    slit = _slit(template, lip_ids, faces)
    if slit is not None:
        return slit[0], slit[1], "slit"
    groove = _groove(template, lip_ids, float(np.median(template[lip_ids, 0])))
    if groove is not None:
        return groove, lip_ids, "groove"
    return float(np.median(template[lip_ids, 1])), lip_ids, "median"


def select_lip_pairs(template: np.ndarray, lip_ids: np.ndarray, faces: np.ndarray | None = None) -> np.ndarray:
    """(P, 2) int64 (upper id, lower id) by rule ``template-lip-region-v1`` (module docstring)."""
    template = np.asarray(template, dtype=np.float64)
    lip_ids = np.unique(np.asarray(lip_ids, dtype=np.int64))
    region = template[lip_ids]
    centre = np.median(region[:, 0])
    width = np.percentile(region[:, 0], 95) - np.percentile(region[:, 0], 5)
    split, ids, _ = mouth_line(template, lip_ids, faces)
    points = template[ids]
    above, below = points[:, 1] > split, points[:, 1] <= split
    if not above.any() or not below.any():
        raise ValueError("the lip region has no vertices above or below the mouth line")
    pairs = []
    for offset in TARGET_OFFSETS:
        target = centre + offset * width
        cost_up = np.abs(points[:, 0] - target) + (points[:, 1] - split)
        cost_down = np.abs(points[:, 0] - target) + (split - points[:, 1])
        upper = ids[np.flatnonzero(above)[np.argmin(cost_up[above])]]
        lower = ids[np.flatnonzero(below)[np.argmin(cost_down[below])]]
        pairs.append((int(upper), int(lower)))
    return np.asarray(list(dict.fromkeys(pairs)), dtype=np.int64)
