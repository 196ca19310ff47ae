"""Frames of a side-by-side video: each panel rendered by one reused backend object, pasted
into the static layout; in order, either in this process or by a pool of worker processes
(each with its own renderer) that render whole frames while this process feeds ffmpeg."""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass

import numpy as np

from .backend_matplotlib import MatplotlibPanelRenderer
from .backend_numpy import NumpyPanelRenderer
from .backend_pyrender import PyrenderPanelRenderer


@dataclass
class FrameJob:
    """Everything needed to draw frame t: panels (n, T, V, 3), optional per-panel colours
    (n entries of (T, V, 3) or None), faces, framing, panel size, backend name, layout."""

    panels: list[np.ndarray]
    colours: list[np.ndarray | None]
    faces: np.ndarray | None
    framing: object
    size: int
    backend: str
    layout: object

    @property
    def n_frames(self) -> int:
        return int(self.panels[0].shape[0])


def make_renderer(backend: str, faces, framing, size: int):
    """A panel renderer object of ``backend`` ('pyrender', 'numpy' or 'matplotlib')."""
    renderers = {"pyrender": PyrenderPanelRenderer, "numpy": NumpyPanelRenderer}
    return renderers.get(backend, MatplotlibPanelRenderer)(faces, framing, size)


class _Drawer:
    def __init__(self, job: FrameJob):
        self.job = job
        self.renderer = make_renderer(job.backend, job.faces, job.framing, job.size)

    def frame(self, t: int) -> np.ndarray:
        """(H, W, 3) uint8 composed frame t."""
        job = self.job
        images = [self.renderer.render(panel[t], None if colours is None else colours[t])
                  for panel, colours in zip(job.panels, job.colours)]
        return job.layout.compose(images)

    def close(self) -> None:
        self.renderer.close()


_WORKER: _Drawer | None = None


def _init_worker(job: FrameJob) -> None:
    global _WORKER
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _WORKER = _Drawer(job)


def _draw(t: int) -> bytes:
    return _WORKER.frame(t).tobytes()


def iterate_frames(job: FrameJob, workers: int):
    """Yield the composed frames 0..T-1 in order; ``workers`` > 1 renders them in that many processes."""
    if workers <= 1 or job.n_frames < 2 * workers or job.backend == "pyrender":
        drawer = _Drawer(job)
        try:
            for t in range(job.n_frames):
                yield drawer.frame(t)
        finally:
            drawer.close()
        return
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    shape = (*job.layout.shape, 3)
    with multiprocessing.get_context(method).Pool(workers, initializer=_init_worker, initargs=(job,)) as pool:
        for data in pool.imap(_draw, range(job.n_frames), chunksize=2):
            yield np.frombuffer(data, dtype=np.uint8).reshape(shape)
