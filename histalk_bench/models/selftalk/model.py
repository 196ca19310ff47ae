"""The SelfTalk network's inference path.  Attribute names follow the official state dicts
(``audio_encoder``, ``audio_feature_map``, ``transformer_decoder``, ``vertice_map_r``) so the
released files load unchanged (but for old weight-norm key names).

Shapes: audio (B, N) normalised 16 kHz samples; the wav2vec2 CNN gives n = floor((N - 400) / 320) + 1
features at 50 Hz.  VOCASET ('vocaset'): the CNN features are linearly interpolated to the 30 fps
frame count before the feature projection, one hidden vector per frame.  BIWI ('biwi'): an odd
last feature is dropped and two consecutive 50 Hz hidden vectors form one 25 fps frame (2 * hidden
wide).  The decoder attends over the mapped audio as both target and memory, without masks; the
output is a displacement (B, T, V * 3) that the caller adds to the template.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..official_weights import TINY_ENCODER as BASE_TINY_ENCODER

DATASETS = {"vocaset": (30.0, 1), "biwi": (25.0, 2)}  # dataset -> (frames per second, 50 Hz features per frame)
TINY_ENCODER = {**BASE_TINY_ENCODER, "feat_extract_norm": "layer", "do_stable_layer_norm": True, "conv_bias": True}


@dataclass
class SelfTalkConfig:
    n_vertices: int
    dataset: str = "vocaset"  # 'vocaset' (interpolated to 30 fps) or 'biwi' (two 50 Hz features per 25 fps frame)
    d_model: int = 512  # 512 VOCASET, 1024 BIWI
    n_heads: int = 4
    dim_feedforward: int = 1024  # 2 * d_model in the original
    n_decoder_layers: int = 1
    encoder_config: dict | None = None  # Wav2Vec2Config values (from the checkpoint's shapes, or the run)
    window_s: float = 30.0  # the official predict encodes the audio in 30 s pieces, each on its own

    @property
    def fps(self) -> float:
        return DATASETS[self.dataset][0]

    @property
    def features_per_frame(self) -> int:
        return DATASETS[self.dataset][1]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> SelfTalkConfig:
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


def build_encoder(encoder_config: dict, initialise: bool = True):
    """A transformers ``Wav2Vec2Model`` of the given shape, the CNN frozen; ``initialise=False``
    skips the random initialisation (the weights come from a checkpoint)."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    from ..official_weights import uninitialised

    config = Wav2Vec2Config(**encoder_config)
    encoder = Wav2Vec2Model(config) if initialise else uninitialised(Wav2Vec2Model, config)
    encoder.freeze_feature_encoder()
    return encoder


def decoder_stack(d_model: int, n_heads: int, dim_feedforward: int, n_layers: int) -> nn.TransformerDecoder:
    layer = nn.TransformerDecoderLayer(d_model, n_heads, dim_feedforward, dropout=0.1, batch_first=True)
    return nn.TransformerDecoder(layer, num_layers=n_layers)


class SelfTalk(nn.Module):
    """Audio encoder, audio_feature_map, unmasked Transformer decoder, vertice_map_r (inference path)."""

    def __init__(self, config: SelfTalkConfig, initialise: bool = True, audio_encoder: nn.Module | None = None):
        """``audio_encoder``: a ready (e.g. pretrained) Wav2Vec2Model; else one of ``config.encoder_config``'s
        shape, randomly initialised or (``initialise=False``) left for a checkpoint to fill."""
        super().__init__()
        if config.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {sorted(DATASETS)}, not {config.dataset!r}")
        self.config = config
        self.audio_encoder = audio_encoder or build_encoder(config.encoder_config or TINY_ENCODER, initialise)
        hidden = self.audio_encoder.config.hidden_size
        d = config.d_model
        self.audio_feature_map = nn.Linear(hidden * config.features_per_frame, d)
        self.transformer_decoder = decoder_stack(d, config.n_heads, config.dim_feedforward, config.n_decoder_layers)
        self.vertice_map_r = nn.Linear(d, config.n_vertices * 3)
        nn.init.constant_(self.vertice_map_r.weight, 0)
        nn.init.constant_(self.vertice_map_r.bias, 0)

    # ----- frame counts
    def n_audio_features(self, n_samples: int) -> int:
        """50 Hz CNN features of ``n_samples`` 16 kHz samples (0 below 400 samples)."""
        if n_samples < 400:
            return 0
        return int(self.audio_encoder._get_feat_extract_output_lengths(torch.tensor(int(n_samples))))

    def window_samples(self) -> int:
        return int(16000 * self.config.window_s)

    def frames_for_audio(self, n_samples: int) -> int:
        """Frames the official ``predict`` makes of ``n_samples``: per 30 s window int(n / 50 * 30)
        frames summed (VOCASET), or the windows' features together // 2 (BIWI)."""
        window = self.window_samples()
        sizes = [min(window, n_samples - start) for start in range(0, n_samples, window)]
        features = [self.n_audio_features(size) for size in sizes]
        if self.config.features_per_frame == 1:
            return sum(int(n / 50.0 * self.config.fps) for n in features if n)
        return sum(features) // 2

    # ----- audio
    def _hidden(self, audio: torch.Tensor, n_frames: int | None) -> torch.Tensor:
        """One piece of audio (B, N) -> encoder hidden states (B, S, hidden); VOCASET resamples the CNN
        features to ``n_frames`` (None: int(n / 50 * 30)) before the projection, as the original."""
        features = self.audio_encoder.feature_extractor(audio).transpose(1, 2)  # (B, n, C)
        if self.config.features_per_frame == 1:
            size = int(features.shape[1] / 50.0 * self.config.fps) if n_frames is None else int(n_frames)
            if size < 1:
                return features.new_zeros(features.shape[0], 0, self.audio_encoder.config.hidden_size)
            features = F.interpolate(features.transpose(1, 2), size=size, mode="linear", align_corners=True).transpose(1, 2)
        hidden, _ = self.audio_encoder.feature_projection(features)
        if self.training and self.audio_encoder.config.apply_spec_augment and hidden.shape[1] > self.audio_encoder.config.mask_time_length:
            hidden = self.audio_encoder._mask_hidden_states(hidden)
        return self.audio_encoder.encoder(hidden).last_hidden_state

    def encode_audio(self, audio: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
        """audio (B, N) -> per-frame audio vectors (B, T, hidden * features_per_frame).

        ``n_frames`` None (the official ``predict``): the audio is encoded in ``window_s`` pieces
        and T comes from the audio; a last piece too short for a frame (under 400 samples, or a
        single feature for VOCASET) is skipped, where the original fails.  Given ``n_frames`` (training, ground-truth length): the whole
        audio at once, VOCASET interpolated to ``n_frames``, BIWI cut to at most 2 * n_frames features.
        """
        if n_frames is None:
            pieces = [p for p in torch.split(audio, self.window_samples(), dim=1) if p.shape[1] >= 400]
            hidden = torch.cat([self._hidden(p, None) for p in pieces], dim=1) if pieces else audio.new_zeros(audio.shape[0], 0, self.audio_encoder.config.hidden_size)
        else:
            hidden = self._hidden(audio, n_frames)
        if self.config.features_per_frame == 2:
            n = hidden.shape[1] - hidden.shape[1] % 2
            if n_frames is not None:
                n = min(n, 2 * int(n_frames))
            hidden = hidden[:, :n].reshape(hidden.shape[0], n // 2, 2 * hidden.shape[2])
        return hidden

    def decode(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, hidden * features_per_frame) -> displacements (B, T, V * 3): decoder(x, x), no masks."""
        x = self.audio_feature_map(frames)
        return self.vertice_map_r(self.transformer_decoder(x, x))

    def forward(self, audio: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
        """audio (B, N) -> displacements (B, T, V * 3)."""
        frames = self.encode_audio(audio, n_frames)
        if frames.shape[1] == 0:
            raise ValueError(f"{audio.shape[1]} audio samples give no frame")
        return self.decode(frames)
