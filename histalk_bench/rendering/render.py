"""Render ground truth and predictions of one sequence side by side into an mp4 with audio.

Library entry point: :func:`render_sequence`.  Backends: ``pyrender`` (OpenGL through EGL,
headless) and ``matplotlib`` (CPU, no OpenGL); ``auto`` picks pyrender when an offscreen
context can be created on a hardware OpenGL driver, else matplotlib (which is faster than Mesa's
CPU rasteriser llvmpipe).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..common.errors import UserError

BACKENDS = ("auto", "pyrender", "matplotlib")


@dataclass
class RenderResult:
    """What was written: path, backend used (and why), frames, fps, seconds spent, labels."""

    path: Path
    backend: str
    backend_reason: str
    n_frames: int
    fps: float
    seconds: float
    labels: list[str] = field(default_factory=list)

    @property
    def seconds_per_video_second(self) -> float:
        return self.seconds / max(self.n_frames / self.fps, 1e-9)


@dataclass
class _Panel:
    label: str
    vertices: np.ndarray  # (T, V, 3)


def parse_sequence(text: str) -> tuple[str, str]:
    """'SUBJECT/SENTENCE' -> (subject, sentence)."""
    subject, slash, sentence = text.strip().strip("/").partition("/")
    if not slash or not subject or not sentence or "/" in sentence:
        raise UserError(f"--sequence must be SUBJECT/SENTENCE, got '{text}'")
    return subject, sentence


def _load_prediction(path: Path, subject: str, sentence: str, condition: str | None,
                     n_vertices: int) -> _Panel:
    from ..predict.store import PredictionReader

    with PredictionReader(path) as reader:
        if not reader.has(subject, sentence):
            raise UserError(f"no prediction for '{subject}/{sentence}'", path)
        label = str(reader.attrs.get("model") or path.stem)
        conditions = reader.conditions(subject, sentence)
        chosen = None
        if conditions != [None]:
            if condition is None:
                chosen = conditions[0]
            elif condition in conditions:
                chosen = condition
            else:
                raise UserError(f"no condition '{condition}' for '{subject}/{sentence}' "
                                f"(available: {', '.join(conditions)})", path)
            label = f"{label} [{chosen}]"
        vertices = reader.vertices(subject, sentence, chosen)
    if vertices.ndim != 3 or vertices.shape[1:] != (n_vertices, 3):
        raise UserError(f"predicted vertices have shape {vertices.shape}, expected (T, {n_vertices}, 3)", path)
    return _Panel(label=label, vertices=vertices)


def _unique_labels(labels: list[str], paths: list[Path]) -> list[str]:
    out = []
    for label, path in zip(labels, paths):
        out.append(f"{label} ({path.stem})" if labels.count(label) > 1 else label)
    return out


def choose_backend(requested: str, has_faces: bool) -> tuple[str, str]:
    """(backend, reason) for ``requested`` in BACKENDS."""
    if requested not in BACKENDS:
        raise UserError(f"unknown backend '{requested}' (choose from {', '.join(BACKENDS)})")
    if requested == "matplotlib":
        return "matplotlib", "requested"
    if not has_faces:
        if requested == "pyrender":
            raise UserError("the pyrender backend needs triangles, but the cache has no /faces; "
                            "use --backend matplotlib for a point-cloud rendering")
        return "matplotlib", "no faces in the cache (point cloud)"
    import importlib.util

    if importlib.util.find_spec("pyrender") is None:  # not imported here: PyOpenGL fixes its platform at import
        if requested == "pyrender":
            raise UserError("pyrender is not installed; pip install 'histalk-bench[render]' or use --backend matplotlib")
        return "matplotlib", "pyrender not installed"
    from .backend_pyrender import probe_egl

    probe = probe_egl()
    if probe.works and (requested == "pyrender" or not probe.software):
        return "pyrender", probe.detail
    if probe.works:
        return "matplotlib", (f"OpenGL renderer '{probe.renderer}' rasterises on the CPU, where matplotlib is "
                              "faster; --backend pyrender forces it")
    if requested == "pyrender":
        raise UserError(f"no offscreen OpenGL context: {probe.detail}; install libegl1 and libgl1 "
                        "(Debian/Ubuntu) or use --backend matplotlib")
    return "matplotlib", f"no offscreen OpenGL ({probe.detail})"


@dataclass
class _Loaded:
    panels: list[_Panel]  # ground truth first, each (n_frames, V, 3)
    faces: np.ndarray | None
    audio: np.ndarray  # (N,) float32 at 16 kHz, cut or zero-padded to the video's length
    fps: float
    dataset: str


def _load(data, preds: list[Path], sequence: str, condition: str | None) -> _Loaded:
    """Ground truth, faces, audio and predictions of one sequence, cut to the shortest length."""
    from ..cache import Cache
    from ..common.constants import SAMPLE_RATE

    subject, sentence = parse_sequence(sequence)
    with Cache(data) as cache:
        if not cache.has_sequence(subject, sentence):
            raise UserError(f"no sequence '{subject}/{sentence}'", cache.path)
        gt = cache.vertices(subject, sentence)
        audio = cache.audio(subject, sentence)
        faces = cache.faces
        fps, dataset = cache.fps, cache.dataset
    if faces is not None and (faces.ndim != 2 or faces.shape[1] != 3 or faces.max(initial=0) >= gt.shape[1]):
        raise UserError(f"/faces has shape {faces.shape} or ids outside the {gt.shape[1]} vertices", data)
    predicted = [_load_prediction(p, subject, sentence, condition, gt.shape[1]) for p in preds]
    for panel, label in zip(predicted, _unique_labels([p.label for p in predicted], preds)):
        panel.label = label
    panels = [_Panel("ground truth", gt), *predicted]
    n_frames = min(p.vertices.shape[0] for p in panels)
    if n_frames == 0:
        raise UserError(f"sequence '{subject}/{sentence}' has no frames to render", data)
    for panel in panels:
        panel.vertices = panel.vertices[:n_frames]
    n_samples = int(round(n_frames / fps * SAMPLE_RATE))
    audio = np.pad(audio[:n_samples], (0, max(0, n_samples - len(audio))))
    return _Loaded(panels, faces, audio, fps, dataset)


def render_sequence(data: str | os.PathLike, preds: list[str | os.PathLike], sequence: str,
                    out: str | os.PathLike, *, condition: str | None = None, error_colors: bool = False,
                    error_max: float | None = None, size: int = 512, backend: str = "auto",
                    progress: bool = True) -> RenderResult:
    """Write ``out`` (mp4, H.264 + AAC): ground truth then each prediction file, one labelled
    panel of ``size`` x ``size`` pixels each, the sequence's 16 kHz audio muxed in.

    Frames beyond the shortest of ground truth and predictions are dropped.  With
    ``error_colors`` each prediction is coloured by its per-vertex L2 distance to the ground
    truth (top of the scale: ``error_max`` in mesh units, default the 99th percentile).
    The view is framed on the ground truth, so a prediction that drifts away leaves the panel."""
    from ..common.constants import SAMPLE_RATE
    from ..common.progress import progress_bar
    from .colors import choose_scale, error_rgb, vertex_errors
    from .geometry import frame_meshes
    from .layout import PanelLayout
    from .video import VideoWriter

    if size < 64 or size > 4096:
        raise UserError(f"--size must be between 64 and 4096 pixels, got {size}")
    started = time.perf_counter()
    loaded = _load(data, [Path(p) for p in preds], sequence, condition)
    gt, predicted = loaded.panels[0].vertices, loaded.panels[1:]
    errors = [vertex_errors(p.vertices, gt) for p in predicted] if error_colors else []
    scale = choose_scale(errors, loaded.dataset, vmax=error_max) if errors else None

    chosen, reason = choose_backend(backend, loaded.faces is not None)
    if chosen == "pyrender":
        from .backend_pyrender import PyrenderPanelRenderer as Renderer
    else:
        from .backend_matplotlib import MatplotlibPanelRenderer as Renderer
    layout = PanelLayout([p.label for p in loaded.panels], size, scale)
    height, width = layout.shape
    renderer = Renderer(loaded.faces, frame_meshes([gt], margin=1.12), size)
    try:  # the renderer is closed in every case (EGL contexts must be released)
        writer = VideoWriter(out, width=width, height=height, fps=loaded.fps, audio=loaded.audio,
                             sample_rate=SAMPLE_RATE)
        try:
            n_frames = gt.shape[0]
            for t in progress_bar(range(n_frames), desc=f"render ({chosen})", total=n_frames, enabled=progress):
                images = [renderer.render(gt[t])]
                for index, panel in enumerate(predicted):
                    colours = error_rgb(errors[index][t], scale) if scale is not None else None
                    images.append(renderer.render(panel.vertices[t], colours))
                writer.write(layout.compose(images))
            path = writer.close()
        except BaseException:
            writer.abort()
            raise
    finally:
        renderer.close()
    return RenderResult(path=path, backend=chosen, backend_reason=reason, n_frames=n_frames, fps=loaded.fps,
                        seconds=time.perf_counter() - started, labels=[p.label for p in loaded.panels])
