"""The embedded synthetic corpus: espeak-ng speech + a procedural face, in real dataset layouts."""

from .corpus import write_synthetic_corpus

__all__ = ["write_synthetic_corpus"]
