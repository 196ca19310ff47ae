"""The HDF5 cache, schema v1: the only module that knows its HDF5 paths.

Layout (see ``docs/cache_schema.md``)::

    /                      attrs schema_version=1, dataset, fps, n_vertices, config (JSON), created_with
    /templates/<subject>   (V, 3) float32 neutral face
    /faces                 (F, 3) int32, when known
    /regions/<name>        int64 vertex ids, attrs source, sha256   (at least lip, upper_face)
    /landmark_map/         vertex_ids (L, K) int64, weights (L, K) float32, attrs source, kind
    /sequences/<subject>/<sentence>/
                           attrs split, n_frames, transcript (+ free-form extras)
                           vertices (T, V, 3) float32 at fps
                           audio (N,) float32 mono, attr sample_rate=16000
                           phones, words (optional): compound (start s, end s, label)
                           features/<name> (optional): (T_f, D) float32, attr rate (Hz)
                           landmarks (optional): (T, L, 3) float32

Writing is atomic and resumable: every finished sequence is first written to its own shard
file in ``<cache>.parts/`` (temporary name, then ``os.replace``), so a crash (even kill -9)
loses at most the sequence in flight.  ``CacheWriter.finalize`` merges header and shards into
``<cache>.tmp`` and renames it over ``<cache>``; only then are the shards removed.
"""


from ..common.digest import file_sha256
from .read import Cache, iter_sequences
from .schema import AUDIO_RATE, SCHEMA_VERSION, SPLITS, TIERS, Interval, SequenceData, SequenceRef
from .write import CacheWriter

__all__ = ["AUDIO_RATE", "SCHEMA_VERSION", "SPLITS", "TIERS", "Cache", "CacheWriter", "Interval", "SequenceData",
           "SequenceRef", "file_sha256", "iter_sequences"]
