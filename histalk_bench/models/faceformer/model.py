"""The FaceFormer network.  Attribute names follow the official state dicts
(audio_encoder, audio_feature_map, vertice_map, vertice_map_r, obj_vector, PPE,
transformer_decoder) so official checkpoints load unchanged (but for weight-norm key names)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .masks import PeriodicPositionalEncoding, biased_causal_mask, memory_mask

TINY_ENCODER = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                "conv_dim": (32,) * 7, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4}


@dataclass
class FaceFormerConfig:
    n_vertices: int
    speakers: tuple[str, ...]
    d_model: int = 64  # 64 VOCASET, 128 BIWI
    period: int = 30  # 30 VOCASET, 25 BIWI
    fps: float = 30.0
    tokens_per_frame: int = 1  # 1: audio interpolated to the frame rate (VOCASET); 2: BIWI
    n_heads: int = 4
    audio_encoder: str = "tiny"  # 'tiny' (random init), 'base' (pretrained wav2vec2-base-960h, local),
    # 'base-random' (Wav2Vec2Config defaults, random init) or a folder with pretrained weights
    encoder_config: dict | None = None
    teacher_forcing: bool = False  # the original trains autoregressively

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "FaceFormerConfig":
        values = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        values["speakers"] = tuple(values.get("speakers", ()))
        return cls(**values)


def build_audio_encoder(config: FaceFormerConfig):
    """A transformers ``Wav2Vec2Model``: pretrained ('base' or a folder) or randomly initialised
    ('tiny', 'base-random'); an ``encoder_config`` (official checkpoints) builds that shape."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    if config.encoder_config is not None:
        encoder = Wav2Vec2Model(Wav2Vec2Config(**config.encoder_config))
    elif config.audio_encoder == "tiny":
        encoder = Wav2Vec2Model(Wav2Vec2Config(**TINY_ENCODER))
    elif config.audio_encoder == "base-random":
        encoder = Wav2Vec2Model(Wav2Vec2Config())
    else:
        from ...features.wav2vec2 import load_wav2vec2

        encoder = load_wav2vec2(None if config.audio_encoder == "base" else config.audio_encoder)
        for parameter in encoder.parameters():
            parameter.requires_grad_(True)
    encoder.freeze_feature_encoder()  # the CNN stays frozen, as in the original
    return encoder


class FaceFormer(nn.Module):
    def __init__(self, config: FaceFormerConfig):
        super().__init__()
        self.config = config
        d = config.d_model
        self.audio_encoder = build_audio_encoder(config)
        self.audio_feature_map = nn.Linear(self.audio_encoder.config.hidden_size, d)
        self.vertice_map = nn.Linear(config.n_vertices * 3, d)
        self.PPE = PeriodicPositionalEncoding(d, config.period)
        layer = nn.TransformerDecoderLayer(d, config.n_heads, 2 * d, dropout=0.1, batch_first=True)
        self.transformer_decoder = nn.TransformerDecoder(layer, num_layers=1)
        self.vertice_map_r = nn.Linear(d, config.n_vertices * 3)
        nn.init.constant_(self.vertice_map_r.weight, 0)
        nn.init.constant_(self.vertice_map_r.bias, 0)
        self.obj_vector = nn.Linear(max(1, len(config.speakers)), d, bias=False)

    # ----- audio
    def frames_for_audio(self, n_samples: int) -> int:
        """Frames the original predicts for 16 kHz audio of ``n_samples``: int(n / 50 * fps) for the
        n 50 Hz CNN features (1 token per frame), n // 2 for 2 tokens per frame."""
        n = max(0, (n_samples - 400) // 320 + 1)
        if self.config.tokens_per_frame == 1:
            return max(1, int(n / 50 * self.config.fps))
        return max(1, n // self.config.tokens_per_frame)

    def encode_audio(self, audio: torch.Tensor, n_frames: int) -> tuple[torch.Tensor, int]:
        """audio (B, N) normalised 16 kHz -> memory (B, S, d) and the usable frame count.

        The 50 Hz CNN features are resampled before the projection and Transformer encoder:
        linearly (align_corners) to ``n_frames`` for 1 token per frame; for 2 tokens per frame
        the last feature is dropped when their number is odd.
        """
        features = self.audio_encoder.feature_extractor(audio).transpose(1, 2)  # (B, n, C)
        if self.config.tokens_per_frame == 1:
            features = F.interpolate(features.transpose(1, 2), size=n_frames, mode="linear", align_corners=True).transpose(1, 2)
            usable = n_frames
        else:
            n = min(features.shape[1] - features.shape[1] % 2, 2 * n_frames)
            features = features[:, :n]
            usable = n // 2
        hidden, _ = self.audio_encoder.feature_projection(features)
        hidden = self._spec_augment(hidden)
        hidden = self.audio_encoder.encoder(hidden).last_hidden_state
        return self.audio_feature_map(hidden), usable

    def _spec_augment(self, hidden: torch.Tensor) -> torch.Tensor:
        """Training only: wav2vec2's time masking (``masked_spec_embed``, config mask_time_prob),
        applied after the feature projection as in the original's encoder forward."""
        config = self.audio_encoder.config
        if not (self.training and config.apply_spec_augment) or hidden.shape[1] <= config.mask_time_length:
            return hidden
        return self.audio_encoder._mask_hidden_states(hidden)

    def style(self, speaker: torch.Tensor) -> torch.Tensor:
        """(B,) speaker indices -> (B, d) style embeddings (one-hot through obj_vector)."""
        one_hot = F.one_hot(speaker.clamp(min=0), self.obj_vector.in_features).float()
        return self.obj_vector(one_hot)

    def _decode(self, tokens: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        b, t, _ = tokens.shape
        tgt_mask = biased_causal_mask(self.config.n_heads, t, self.config.period, tokens.device).repeat(b, 1, 1)
        mem_mask = memory_mask(t, memory.shape[1], self.config.tokens_per_frame, tokens.device)
        hidden = self.transformer_decoder(self.PPE(tokens), memory, tgt_mask=tgt_mask, memory_mask=mem_mask)
        return self.vertice_map_r(hidden)

    def forward_teacher_forced(self, memory: torch.Tensor, style: torch.Tensor, displacement: torch.Tensor) -> torch.Tensor:
        """Displacements (B, T, V*3) predicted from ground-truth previous frames."""
        previous = self.vertice_map(displacement[:, :-1]) + style[:, None]
        tokens = torch.cat([style[:, None], previous], dim=1)
        return self._decode(tokens, memory)

    def forward_autoregressive(self, memory: torch.Tensor, style: torch.Tensor, n_frames: int) -> torch.Tensor:
        """Displacements (B, T, V*3), each frame fed back as the next input token."""
        tokens = style[:, None]
        for _ in range(n_frames):
            output = self._decode(tokens, memory)
            if tokens.shape[1] == n_frames:
                return output
            tokens = torch.cat([tokens, self.vertice_map(output[:, -1:]) + style[:, None]], dim=1)
        return output

    def forward(self, audio: torch.Tensor, speaker: torch.Tensor, n_frames: int,
                displacement: torch.Tensor | None = None, teacher_forcing: bool | None = None) -> torch.Tensor:
        """audio (B, N), speaker (B,), -> displacements (B, T', V*3) with T' = usable frames."""
        memory, usable = self.encode_audio(audio, n_frames)
        style = self.style(speaker)
        use_teacher = self.config.teacher_forcing if teacher_forcing is None else teacher_forcing
        if displacement is not None and use_teacher:
            return self.forward_teacher_forced(memory, style, displacement[:, :usable])
        return self.forward_autoregressive(memory, style, usable)
