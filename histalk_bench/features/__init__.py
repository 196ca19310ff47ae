"""Audio feature extractors (``--features NAME[,NAME]``).

Contract (:mod:`histalk_bench.features.base`): ``extractor.extract(audio_16k) -> (T_f, D)``
float32 (or (T_f, L, D) for several layers) at ``extractor.rate`` Hz, ``config()``, and
``cache_name``, the name under ``features/``.  Add one: a module with a
``FeatureExtractorBase`` subclass, plus one line below; the registry checks the class when it
is first looked up.
"""

from ..registry import Registry

FEATURES = Registry("feature extractor", contract="histalk_bench.features.base:check_extractor")
FEATURES.register("wav2vec2", "histalk_bench.features.wav2vec2:Wav2Vec2Extractor", help="wav2vec 2.0 hidden states (50 Hz)")
FEATURES.register("mel", "histalk_bench.features.mel:LogMelExtractor", help="log-mel spectrogram, no weights")
