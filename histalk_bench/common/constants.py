"""Facts the whole toolkit shares, each defined once."""

from __future__ import annotations

SAMPLE_RATE = 16000
"""Hz. Every audio array in the toolkit (cache, aligners, feature extractors, models) is mono float32 at this rate."""

Interval = tuple[float, float, str]
"""One tier entry: (start s, end s, label). Phones and words tiers are lists of these."""
