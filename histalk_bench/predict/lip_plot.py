"""``animate --plot``: the mouth opening of a new audio's animation over time, under the audio's
loudness, so one sees whether the mouth opens when there is speech."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..common.atomic import atomic_path
from ..common.constants import SAMPLE_RATE
from ..common.errors import UserError


def mouth_of(data: str | None):
    """The metrics' mouth points of the cache ``data`` (histalk_bench.metrics.mouth); UserError
    when there is no cache or it has no lip region."""
    if not data:
        raise UserError("--plot needs the lip region of a prepared cache: give --data CACHE.h5 "
                        "(or a run that recorded its cache)")
    from ..cache import Cache
    from ..metrics.mouth import mouth_points

    with Cache(data) as cache:
        mouth = mouth_points(cache)
    if mouth is None:
        raise UserError("the cache has no lip region (prepare it with --regions)", data)
    return mouth


def loudness_db(audio_16k: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(times (N,), RMS level in dB (N,)) per video frame of 16 kHz audio."""
    hop = round(SAMPLE_RATE / fps)
    n = max(1, len(audio_16k) // hop)
    frames = np.asarray(audio_16k[: n * hop], dtype=np.float64).reshape(n, hop)
    rms = np.sqrt((frames ** 2).mean(axis=1) + 1e-12)
    return np.arange(n) / fps, 20 * np.log10(rms / (rms.max() + 1e-12) + 1e-6)


def plot_new_audio_lips(prediction, audio_16k: np.ndarray, mouth, out: str | os.PathLike) -> Path:
    """Two rows: audio level (dB re. max) and mouth opening (``mouth.opening``, the metrics'
    definition; data units, mm for metre-sized meshes) per condition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = next(iter(prediction.vertices.values()))
    metres = float(np.ptp(first[0, :, 1])) < 1.0  # FLAME heads are ~0.3 m tall
    scale, unit = (1e3, "mm") if metres else (1.0, "data units")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4.2), sharex=True, height_ratios=(1, 2))
    times, level = loudness_db(audio_16k, prediction.fps)
    top.plot(times, level, color="grey", lw=1)
    top.set_ylabel("audio (dB)", fontsize=9)
    for condition, vertices in prediction.vertices.items():
        label = prediction.model if condition is None else f"{prediction.model} [{condition}]"
        bottom.plot(np.arange(len(vertices)) / prediction.fps, mouth.opening(vertices) * scale, lw=1.3,
                    label=label)
    bottom.set_ylabel(f"mouth opening ({unit})", fontsize=9)
    bottom.set_xlabel("time (s)")
    for axis in (top, bottom):
        axis.spines[["top", "right"]].set_visible(False)
        axis.grid(alpha=0.3)
    bottom.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=min(3, len(prediction.vertices)))
    top.set_title(f"Mouth opening of the animation under the audio level ({mouth.source})", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out) as temporary:
        fig.savefig(temporary, dpi=110, format=out.suffix.lstrip("."))
    plt.close(fig)
    return out
