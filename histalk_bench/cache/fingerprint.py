"""Cache fingerprints: what a cache is, as one digest that runs, predictions and scores record.

fingerprint = sha256(dataset, schema version, fps, vertex count, config JSON, sorted
(subject/sentence, sequence content digest)).  A cache written before fingerprints existed has
none: :func:`cache_provenance` then derives an *unverified* identity from its header, sequence
list, size and modification time, and says so.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Iterable

UNVERIFIED = "unverified: written before fingerprints and checksums; re-run 'histalk-bench prepare ... --force' to add them"


def compute_fingerprint(attrs: dict, digests: Iterable[tuple[str, str]]) -> str:
    """sha256 hex of the header ``attrs`` and the sorted (sequence key, content digest) pairs."""
    header = {k: attrs.get(k) for k in ("dataset", "schema_version", "fps", "n_vertices", "config")}
    digest = hashlib.sha256(json.dumps(header, sort_keys=True, default=str).encode())
    for key, value in sorted(digests):
        digest.update(f"\n{key} {value}".encode())
    return digest.hexdigest()


def cache_provenance(cache) -> dict:
    """Identity of an open :class:`~histalk_bench.cache.Cache`: fingerprint, whether it is
    verified (written with checksums and digests), dataset, fps, vertex count, path."""
    stored = cache.stored_fingerprint
    out = {"path": os.fspath(cache.path), "dataset": cache.dataset, "fps": cache.fps, "n_vertices": cache.n_vertices}
    if stored:
        return {**out, "fingerprint": stored, "verified": True}
    stat = os.stat(cache.path)
    keys = [ref.key for ref in cache.sequences()]
    weak = hashlib.sha256(json.dumps([cache.dataset, cache.fps, cache.n_vertices, keys, stat.st_size,
                                      int(stat.st_mtime)]).encode()).hexdigest()
    return {**out, "fingerprint": f"unverified-{weak[:32]}", "verified": False, "note": UNVERIFIED}
