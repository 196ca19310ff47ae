"""Audio feature extractors (``--features NAME[,NAME]``).

Contract: ``extractor.extract(audio_16k) -> (T_f, D) float32`` (or (T_f, L, D) for several
layers) at ``extractor.rate`` Hz; ``extractor.cache_name`` is the name under ``features/``.
Add one: a module with a class, plus one line below.
"""

from ..registry import Registry

FEATURES = Registry("feature extractor")
FEATURES.register("wav2vec2", "histalk_bench.features.wav2vec2:Wav2Vec2Extractor", help="wav2vec 2.0 hidden states (50 Hz)")
FEATURES.register("mel", "histalk_bench.features.mel:LogMelExtractor", help="log-mel spectrogram, no weights")
