"""Media of the HTML report: one bare video per (sequence, panel) and one audio file per sequence.

A clip is a single mesh panel with no label strip or title drawn in (the blinded study reuses the
same files), rendered by the package's renderer (:mod:`histalk_bench.rendering`) and written by its
ffmpeg writer.  Clips are content-addressed: the file name is a digest of everything that decides
its pixels (vertices, triangles, framing, size, backend, frame rate, renderer version), so a clip
already in the media folder is reused instead of rendered again (compare re-runs with reused
predictions cost no rendering) and a clip's name says nothing about what it shows.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from ..common.atomic import atomic_path
from ..rendering.frames import make_renderer
from ..rendering.video import VideoWriter

CLIP_VERSION = "1"  # bump when the clip's look changes (renderer, encoding): old clips are then re-rendered


@dataclass
class ClipResult:
    """A clip file, whether it was rendered now (False: reused) and the seconds spent."""

    path: Path
    rendered: bool
    seconds: float


def _digest(*parts) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        data = np.ascontiguousarray(part).tobytes() if isinstance(part, np.ndarray) else str(part).encode()
        hasher.update(len(data).to_bytes(8, "little") + data)
    return hasher.hexdigest()[:20]


def clip_backend(faces: np.ndarray | None) -> str:
    """'numpy' (the fast headless z-buffer rasteriser) for meshes, 'matplotlib' for point clouds."""
    return "numpy" if faces is not None else "matplotlib"


def render_clip(vertices: np.ndarray, faces: np.ndarray | None, framing, size: int, fps: float,
                folder: Path, *, frozen: bool = False) -> ClipResult:
    """``folder/<digest>.mp4``: ``vertices`` (T, V, 3) as a bare ``size`` px H.264 video at ``fps``,
    silent (the page plays the sequence's audio once, for every clip).  ``frozen``: render frame 0
    once and repeat it T times (the static face of the attention checks)."""
    started = time.perf_counter()
    vertices = np.asarray(vertices, dtype=np.float32)
    backend = clip_backend(faces)
    key = _digest(CLIP_VERSION, backend, int(size), float(fps), bool(frozen),
                  np.asarray(framing.center, dtype=np.float64), float(framing.half_extent),
                  vertices[:1] if frozen else vertices, len(vertices),
                  np.zeros(0) if faces is None else np.asarray(faces, dtype=np.int64))
    path = Path(folder) / f"{key}.mp4"
    if path.exists():
        return ClipResult(path, False, time.perf_counter() - started)
    side = size + size % 2
    renderer = make_renderer(backend, faces, framing, side)
    writer = VideoWriter(path, width=side, height=side, fps=fps, audio=None)
    try:
        still = None
        for t in range(len(vertices)):
            if frozen and still is not None:
                frame = still
            else:
                frame = np.ascontiguousarray(renderer.render(vertices[t]))
                still = frame
            writer.write(frame)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        renderer.close()
    return ClipResult(path, True, time.perf_counter() - started)


def write_audio(audio: np.ndarray | None, n_samples: int, sample_rate: int, folder: Path) -> Path:
    """``folder/<digest>.wav`` (16-bit PCM): ``audio`` cut or zero-padded to ``n_samples``."""
    samples = np.zeros(n_samples, np.float32) if audio is None else np.asarray(audio, np.float32).reshape(-1)
    samples = np.pad(samples[:n_samples], (0, max(0, n_samples - len(samples))))
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    path = Path(folder) / f"{_digest(CLIP_VERSION, 'wav', sample_rate, pcm)}.wav"
    if not path.exists():
        with atomic_path(path) as temporary:
            soundfile.write(temporary, pcm, int(sample_rate), subtype="PCM_16", format="WAV")
    return path


def remove_unused(folder: Path, used: set[str]) -> int:
    """Delete the clips and audio of earlier reports in ``folder`` that this report does not use."""
    removed = 0
    for path in folder.glob("*"):
        if path.suffix in (".mp4", ".wav") and path.name not in used and len(path.stem) == 20:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
