"""Side-by-side composition: a label strip over each panel and an optional colour bar below."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .colors import ErrorScale


class PanelLayout:
    """Static parts (labels, colour bar) drawn once; ``compose`` pastes the panels per frame."""

    def __init__(self, labels: list[str], size: int, scale: ErrorScale | None = None):
        self.size = int(size)
        self.n = len(labels)
        self.label_height = _even(max(20, self.size // 14))
        self.bar_height = _even(max(56, self.size // 6)) if scale is not None else 0
        width = _even(self.size * self.n)
        height = _even(self.label_height + self.size + self.bar_height)
        self.canvas = np.full((height, width, 3), 255, dtype=np.uint8)
        self.canvas[: self.label_height] = _label_strip(labels, self.size, self.label_height, width)
        if scale is not None:
            top = self.label_height + self.size
            self.canvas[top: top + self.bar_height] = _colour_bar(scale, width, self.bar_height)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the composed frame, both even (needed by yuv420p)."""
        return self.canvas.shape[0], self.canvas.shape[1]

    def compose(self, panels: list[np.ndarray]) -> np.ndarray:
        """panels: n images (size, size, 3) uint8 -> one (height, width, 3) uint8 frame."""
        frame = self.canvas.copy()
        top = self.label_height
        for index, panel in enumerate(panels):
            frame[top: top + self.size, index * self.size: (index + 1) * self.size] = panel
        return frame


def _even(value: int) -> int:
    return value + (value % 2)


def _font(pixels: int):
    try:
        return ImageFont.load_default(size=pixels)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def _label_strip(labels: list[str], size: int, height: int, width: int) -> np.ndarray:
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = _font(int(height * 0.7))
    for index, label in enumerate(labels):
        box = draw.textbbox((0, 0), label, font=font)
        x = index * size + max(2, (size - (box[2] - box[0])) // 2)
        y = max(0, (height - (box[3] - box[1])) // 2 - box[1])
        draw.text((x, y), label, fill="black", font=font)
    return np.asarray(image)


def _colour_bar(scale: ErrorScale, width: int, height: int) -> np.ndarray:
    """Horizontal colour bar with ticks in display units, as an (height, width, 3) image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 (lazy: matplotlib: 0.1-0.4 s)
    from matplotlib.cm import ScalarMappable  # noqa: PLC0415 (lazy: matplotlib: 0.1-0.4 s)
    from matplotlib.colors import Normalize  # noqa: PLC0415 (lazy: matplotlib: 0.1-0.4 s)
    from matplotlib.figure import Figure  # noqa: PLC0415 (lazy: matplotlib: 0.1-0.4 s)

    dpi = 100
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_axes((0.2, 0.45, 0.6, 0.2))
    mappable = ScalarMappable(norm=Normalize(0.0, scale.vmax * scale.display_factor), cmap=scale.cmap)
    bar = figure.colorbar(mappable, cax=axes, orientation="horizontal")
    font_size = max(7, int(height * 0.16))
    bar.ax.tick_params(labelsize=font_size)
    bar.ax.set_title(f"per-vertex L2 error vs ground truth ({scale.unit})", fontsize=font_size)
    canvas.draw()
    image = np.asarray(canvas.buffer_rgba())[..., :3]
    out = np.full((height, width, 3), 255, dtype=np.uint8)
    h, w = min(height, image.shape[0]), min(width, image.shape[1])
    out[:h, :w] = image[:h, :w]
    return out
