"""Render meshes side by side into an mp4 with audio.

Library entry points: :func:`render_sequence` (a cached sequence: ground truth and
predictions), :func:`render_new_audio` (predictions of new audio, as ``predict --audio`` and
``animate`` write them) and :func:`render_panels` (panels already in memory).  Backends:
``pyrender`` (OpenGL through EGL, headless), ``numpy`` (CPU z-buffer rasteriser) and
``matplotlib`` (CPU painter, also draws point clouds); ``auto`` picks pyrender when an
offscreen context runs on a hardware OpenGL driver, else numpy (faster than Mesa's CPU
rasteriser llvmpipe and than matplotlib), and matplotlib for meshes without triangles.
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..common.constants import SAMPLE_RATE
from ..common.errors import UserError
from ..common.progress import progress_bar
from ..common.threads import available_cpus
from .backend_pyrender import probe_egl
from .colors import choose_scale, error_rgb, vertex_errors
from .frames import FrameJob, iterate_frames
from .geometry import frame_meshes
from .inputs import Loaded, Panel, load_new_audio, load_sequence, parse_sequence  # noqa: F401 (re-exported)
from .layout import PanelLayout
from .video import VideoWriter

BACKENDS = ("auto", "pyrender", "numpy", "matplotlib")


@dataclass
class RenderResult:
    """What was written: path, backend used (and why), frames, fps, seconds spent, labels, notes."""

    path: Path
    backend: str
    backend_reason: str
    n_frames: int
    fps: float
    seconds: float
    labels: list[str] = field(default_factory=list)
    workers: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def seconds_per_video_second(self) -> float:
        return self.seconds / max(self.n_frames / self.fps, 1e-9)


def choose_backend(requested: str, has_faces: bool) -> tuple[str, str]:
    """(backend, reason) for ``requested`` in BACKENDS."""
    if requested not in BACKENDS:
        raise UserError(f"unknown backend '{requested}' (choose from {', '.join(BACKENDS)})")
    if requested == "matplotlib":
        return "matplotlib", "requested"
    if not has_faces:
        if requested in ("pyrender", "numpy"):
            raise UserError(f"the {requested} backend needs triangles, but there are none (no /faces in the cache, no --faces mesh); "
                            "use --backend matplotlib for a point-cloud rendering")
        return "matplotlib", "no faces (point cloud)"
    if requested == "numpy":
        return "numpy", "requested"
    if importlib.util.find_spec("pyrender") is None:  # not imported here: PyOpenGL fixes its platform at import
        if requested == "pyrender":
            raise UserError("pyrender is not installed; pip install -e '.[render]' in the clone, or use --backend numpy")
        return "numpy", "pyrender not installed"
    probe = probe_egl()
    if probe.works and (requested == "pyrender" or not probe.software):
        return "pyrender", probe.detail
    if probe.works:
        return "numpy", (f"OpenGL renderer '{probe.renderer}' rasterises on the CPU, where the numpy rasteriser is "
                         "faster; --backend pyrender forces it")
    if requested == "pyrender":
        raise UserError(f"no offscreen OpenGL context: {probe.detail}; install libegl1 and libgl1 "
                        "(Debian/Ubuntu) or use --backend numpy")
    return "numpy", f"no offscreen OpenGL ({probe.detail})"


def render_panels(loaded: Loaded, out: str | os.PathLike, *, error_reference: np.ndarray | None = None,
                  error_max: float | None = None, size: int = 512, backend: str = "auto", workers: int | None = None,
                  progress: bool = True, framing=None) -> RenderResult:
    """Write ``out`` (mp4, H.264 + AAC when there is audio): one labelled ``size`` px panel per
    ``loaded.panels`` entry.  ``error_reference`` (T, V, 3): colour every panel but the first by
    its per-vertex L2 distance to it.  ``workers``: processes rendering frames (default: the
    CPUs available, at most 4; 1 renders here)."""
    if size < 64 or size > 4096:
        raise UserError(f"--size must be between 64 and 4096 pixels, got {size}")
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    started = time.perf_counter()
    scale, colours = None, [None] * len(loaded.panels)
    if error_reference is not None and len(loaded.panels) > 1:
        errors = [vertex_errors(p.vertices, error_reference) for p in loaded.panels[1:]]
        scale = choose_scale(errors, loaded.dataset, vmax=error_max)
        colours = [None, *(error_rgb(e, scale).astype(np.float32) for e in errors)]
    chosen, reason = choose_backend(backend, loaded.faces is not None)
    workers = min(4, available_cpus()) if workers is None else int(workers)
    layout = PanelLayout([p.label for p in loaded.panels], size, scale)
    framing = framing or frame_meshes([loaded.panels[0].vertices], margin=1.12)
    job = FrameJob([p.vertices for p in loaded.panels], colours, loaded.faces, framing, size, chosen, layout)
    height, width = layout.shape
    writer = VideoWriter(out, width=width, height=height, fps=loaded.fps, audio=loaded.audio, sample_rate=SAMPLE_RATE)
    try:
        frames = iterate_frames(job, workers)
        for frame in progress_bar(frames, desc=f"render ({chosen})", total=job.n_frames, enabled=progress):
            writer.write(frame)
        path = writer.close()
    except BaseException:
        writer.abort()
        raise
    return RenderResult(path=path, backend=chosen, backend_reason=reason, n_frames=job.n_frames, fps=loaded.fps,
                        seconds=time.perf_counter() - started, labels=[p.label for p in loaded.panels],
                        workers=workers if chosen != "pyrender" else 1, notes=list(loaded.notes))


def render_sequence(data: str | os.PathLike, preds: list[str | os.PathLike], sequence: str,
                    out: str | os.PathLike, *, condition: str | None = None, error_colors: bool = False,
                    error_max: float | None = None, size: int = 512, backend: str = "auto",
                    workers: int | None = None, progress: bool = True) -> RenderResult:
    """Ground truth then each prediction file (one panel per shown condition; ``condition``
    None: the first stored, 'all': every one) of a cached sequence, its 16 kHz audio muxed in.

    Frames beyond the shortest of ground truth and predictions are dropped.  With
    ``error_colors`` each prediction is coloured by its per-vertex L2 distance to the ground
    truth (top of the scale: ``error_max`` in mesh units, default the 99th percentile).
    The view is framed on the ground truth, so a prediction that drifts away leaves the panel."""
    if size < 64 or size > 4096:
        raise UserError(f"--size must be between 64 and 4096 pixels, got {size}")
    loaded = load_sequence(data, [Path(p) for p in preds], sequence, condition)
    reference = loaded.panels[0].vertices if error_colors else None
    return render_panels(loaded, out, error_reference=reference, error_max=error_max, size=size, backend=backend,
                         workers=workers, progress=progress)


def render_new_audio(preds: list[str | os.PathLike], out: str | os.PathLike, *, audio: str | None = None,
                     faces: str | None = None, data: str | None = None, condition: str | None = None,
                     fps: float | None = None, size: int = 512, backend: str = "auto", workers: int | None = None,
                     progress: bool = True) -> RenderResult:
    """Predictions of new audio (``predict --audio`` .h5 or .npy; no ground truth), framed on all panels."""
    if not preds:
        raise UserError("give at least one --pred file")
    loaded = load_new_audio([Path(p) for p in preds], audio=audio, faces_spec=faces, data=data, condition=condition,
                            fps=fps)
    framing = frame_meshes([p.vertices for p in loaded.panels], margin=1.12)
    return render_panels(loaded, out, size=size, backend=backend, workers=workers, progress=progress, framing=framing)
