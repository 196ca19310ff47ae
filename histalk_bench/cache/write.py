"""Writing a cache atomically and resumably: :class:`CacheWriter`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterable

import h5py
import numpy as np

from .. import __version__
from ..common import lock
from ..common.atomic import atomic_path, ensure_free_space
from ..common.errors import UserError
from .fingerprint import compute_fingerprint
from .schema import (CHECKSUM, DIGEST_ATTR, SCHEMA_VERSION, SequenceData, _attr, _open_h5, _read_sequence_group,
                     _write_sequence_group, sequence_digest)
from .read import Cache


class CacheWriter:
    """Builds a cache atomically and resumably.

    Usage::

        writer = CacheWriter(path, dataset="vocaset", fps=30.0, n_vertices=5023, config={...})
        writer.set_templates({...}); writer.set_region("lip", ids, source=..., sha256=...)
        for seq in ...:
            if not writer.is_done(subject, sentence):
                writer.write_sequence(seq)       # one atomic shard per sequence
        writer.finalize()                        # merge into <path> atomically

    ``force=True`` discards shards and ignores an existing cache.  Without it, shards left by an
    interrupted run and sequences of an existing cache with the same dataset are reused.
    One writer at a time: a second one on the same path gets a UserError (``<path>.lock``).
    Datasets carry fletcher32 checksums; ``finalize`` records the cache fingerprint.
    """

    def __init__(self, path: str | os.PathLike, *, dataset: str, fps: float, n_vertices: int,
                 config: dict | None = None, force: bool = False):
        self.path = Path(path)
        self.parts = self.path.with_name(self.path.name + ".parts")
        self.attrs = {
            "schema_version": SCHEMA_VERSION,
            "dataset": dataset,
            "fps": float(fps),
            "n_vertices": int(n_vertices),
            "config": json.dumps(config or {}, sort_keys=True, default=str),
            "created_with": f"histalk-bench {__version__}",
        }
        self.templates: dict[str, np.ndarray] = {}
        self.faces: np.ndarray | None = None
        self.regions: dict[str, tuple[np.ndarray, str, str]] = {}
        self.landmark: tuple[np.ndarray, np.ndarray, dict] | None = None
        lock.acquire(self.path, what="cache")
        if force:
            shutil.rmtree(self.parts, ignore_errors=True)
        self.parts.mkdir(parents=True, exist_ok=True)
        for stale in self.parts.glob("*.tmp"):
            stale.unlink()
        self.previous: Cache | None = None
        if not force and self.path.exists():
            try:
                previous = Cache(self.path)
                if previous.dataset == dataset and previous.n_vertices == int(n_vertices):
                    self.previous = previous
                else:
                    previous.close()
            except UserError:
                self.previous = None

    # header content, kept in memory and written by finalize()
    def set_templates(self, templates: dict[str, np.ndarray]) -> None:
        for subject, template in templates.items():
            self.templates[subject] = np.asarray(template, dtype=np.float32).reshape(-1, 3)

    def set_faces(self, faces: np.ndarray) -> None:
        self.faces = np.asarray(faces, dtype=np.int32).reshape(-1, 3)

    def set_region(self, name: str, ids: np.ndarray, *, source: str, sha256: str) -> None:
        """Vertex ids (N,), or (P, 2) id pairs such as ``lip_pairs``."""
        ids = np.asarray(ids, dtype=np.int64)
        self.regions[name] = (ids if ids.ndim == 2 else ids.reshape(-1), source, sha256)

    def set_landmark_map(self, vertex_ids: np.ndarray, weights: np.ndarray, **info) -> None:
        vertex_ids = np.asarray(vertex_ids, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.float32)
        if vertex_ids.ndim == 1:
            vertex_ids, weights = vertex_ids[:, None], weights.reshape(-1, 1)
        self.landmark = (vertex_ids, weights, info)

    # sequences
    def _shard_path(self, subject: str, sentence: str) -> Path:
        return self.parts / f"{subject}__{sentence}.h5"

    def is_done(self, subject: str, sentence: str) -> bool:
        """True when this sequence has a finished shard or is in the existing cache."""
        if self._shard_path(subject, sentence).exists():
            return True
        return self.previous is not None and self.previous.has_sequence(subject, sentence)

    def load_done(self, subject: str, sentence: str) -> SequenceData | None:
        """The finished sequence from a shard or the existing cache (to extend it), else None."""
        shard = self._shard_path(subject, sentence)
        if shard.exists():
            with _open_h5(shard) as handle:
                return _read_sequence_group(handle["sequences"][subject][sentence], subject, sentence)
        if self.previous is not None and self.previous.has_sequence(subject, sentence):
            return self.previous.read(subject, sentence)
        return None

    def write_sequence(self, seq: SequenceData) -> None:
        """Write ``seq`` to its own shard: a temporary file, fsync, then an atomic rename."""
        # built in memory and written with plain file I/O: a full disk is an ordinary OSError
        with h5py.File(f"{seq.subject}__{seq.sentence}", "w", driver="core", backing_store=False) as handle:
            _write_sequence_group(handle.require_group("sequences"), seq)
            handle.flush()
            image = handle.id.get_file_image()
        with atomic_path(self._shard_path(seq.subject, seq.sentence)) as temporary:
            temporary.write_bytes(image)

    def shard_keys(self) -> list[tuple[str, str]]:
        keys = []
        for shard in sorted(self.parts.glob("*.h5")):
            subject, _, sentence = shard.stem.partition("__")
            keys.append((subject, sentence))
        return keys

    def finalize(self, keep: Iterable[tuple[str, str]] | None = None) -> Path:
        """Merge header, shards and (unless replaced) the existing cache's sequences into
        ``path`` atomically.  ``keep``: restrict the result to these (subject, sentence) keys."""
        keep_set = None if keep is None else set(keep)
        needed = sum(p.stat().st_size for p in self.parts.glob("*.h5"))
        needed += self.previous.path.stat().st_size if self.previous is not None else 0
        ensure_free_space(self.path.parent, needed, f"the cache {self.path.name}")
        with atomic_path(self.path) as temporary, h5py.File(temporary, "w") as out:
            for key, value in self.attrs.items():
                out.attrs[key] = value
            templates = out.create_group("templates")
            for subject, template in sorted(self.templates.items()):
                templates.create_dataset(subject, data=template, **CHECKSUM)
            if self.faces is not None:
                out.create_dataset("faces", data=self.faces)
            regions = out.create_group("regions")
            for name, (ids, source, sha256) in sorted(self.regions.items()):
                regions.create_dataset(name, data=ids, **CHECKSUM)
                regions[name].attrs["source"] = source
                regions[name].attrs["sha256"] = sha256
            if self.landmark is not None:
                vertex_ids, weights, info = self.landmark
                group = out.create_group("landmark_map")
                group.create_dataset("vertex_ids", data=vertex_ids)
                group.create_dataset("weights", data=weights)
                for key, value in info.items():
                    group.attrs[key] = value
            sequences = out.create_group("sequences")
            written = set()
            for subject, sentence in self.shard_keys():
                if keep_set is not None and (subject, sentence) not in keep_set:
                    continue
                with _open_h5(self._shard_path(subject, sentence)) as shard:
                    shard.copy(shard["sequences"][subject][sentence], sequences.require_group(subject), name=sentence)
                written.add((subject, sentence))
            if self.previous is not None:
                previous_root = self.previous._h5["sequences"]
                for ref in self.previous.sequences():
                    key = (ref.subject, ref.sentence)
                    if key in written or (keep_set is not None and key not in keep_set):
                        continue
                    previous_root.file.copy(previous_root[ref.subject][ref.sentence],
                                            sequences.require_group(ref.subject), name=ref.sentence)
            out.attrs["fingerprint"] = compute_fingerprint(self.attrs, _digests(sequences))
            if self.previous is not None:
                self.previous.close()
                self.previous = None
        shutil.rmtree(self.parts, ignore_errors=True)
        lock.release(self.path)
        return self.path

    def abandon(self) -> None:
        """Drop the shards (used when validation fails before anything valid was written)."""
        if self.previous is not None:
            self.previous.close()
        shutil.rmtree(self.parts, ignore_errors=True)
        lock.release(self.path)


def _digests(sequences: h5py.Group) -> list[tuple[str, str]]:
    """(subject/sentence, content digest) of every sequence; computed for sequences copied from a
    cache written before digests existed."""
    out = []
    for subject, subject_group in sequences.items():
        for sentence, group in subject_group.items():
            digest = group.attrs.get(DIGEST_ATTR)
            if digest is None:
                digest = sequence_digest(_read_sequence_group(group, subject, sentence))
                group.attrs[DIGEST_ATTR] = digest
            out.append((f"{subject}/{sentence}", _attr(digest)))
    return out

