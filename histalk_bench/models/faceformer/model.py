"""The FaceFormer network.  Attribute names follow the official state dicts
(audio_encoder, audio_feature_map, vertice_map, vertice_map_r, obj_vector, PPE,
transformer_decoder) so official checkpoints load unchanged (but for weight-norm key names)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ...common.errors import UserError
from ...common.hub import missing_pretrained_message
from ..official_weights import TINY_ENCODER, uninitialised
from .incremental import IncrementalDecoder
from .masks import PeriodicPositionalEncoding, biased_causal_mask, memory_mask


@dataclass
class FaceFormerConfig:
    n_vertices: int
    speakers: tuple[str, ...]
    d_model: int = 64  # 64 VOCASET, 128 BIWI
    period: int = 30  # 30 VOCASET, 25 BIWI
    fps: float = 30.0
    tokens_per_frame: int = 1  # 1: audio interpolated to the frame rate (VOCASET); 2: BIWI
    n_heads: int = 4
    audio_encoder: str = "base"  # 'base' (pretrained wav2vec2-base-960h: the paper), 'tiny' (random init,
    # the CPU demo), 'base-random' (Wav2Vec2Config defaults, random init) or a folder with pretrained weights
    encoder_config: dict | None = None
    teacher_forcing: bool = False  # the original trains autoregressively
    wav2vec2_model: str | None = None  # audio_encoder 'base': folder or hub id of the weights (None: the default)
    wav2vec2_weights: str = ""  # fingerprint of the pretrained weights used (folder) or the hub commit
    select: str = "best"  # weights prediction uses: 'last' epoch (RUN/last.pt; train's default, as the
    # official test) or 'best' validation epoch (RUN/best.pt; runs made before this field existed)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "FaceFormerConfig":
        values = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        values["speakers"] = tuple(values.get("speakers", ()))
        return cls(**values)


def _pretrained_encoder(config: FaceFormerConfig, allow_download: bool):
    """Pretrained weights for 'base' (``config.wav2vec2_model`` or the default hub id) or a folder;
    records their fingerprint (folder) or hub commit in ``config.wav2vec2_weights``."""
    from ...features.wav2vec2 import DEFAULT_MODEL, load_wav2vec2, weights_fingerprint

    source = (config.wav2vec2_model or DEFAULT_MODEL) if config.audio_encoder == "base" else config.audio_encoder
    folder = Path(source).expanduser()
    if folder.exists():
        encoder = load_wav2vec2(str(folder))
        config.wav2vec2_weights = weights_fingerprint(folder) if folder.is_dir() else ""
        return encoder
    try:
        encoder = load_wav2vec2(source, allow_download=allow_download)
    except UserError:
        raise UserError(missing_pretrained_message("FaceFormer's audio encoder", source, "--wav2vec2-model", "--set audio_encoder=tiny")) from None
    config.wav2vec2_weights = str(getattr(encoder.config, "_commit_hash", "") or "")
    return encoder


def build_audio_encoder(config: FaceFormerConfig, allow_download: bool = False, initialise: bool = True):
    """A transformers ``Wav2Vec2Model``: pretrained ('base' or a folder) or randomly initialised
    ('tiny', 'base-random'); an ``encoder_config`` (official checkpoints, saved runs) builds that
    shape, randomly initialised or, with ``initialise=False``, left for a checkpoint to fill."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    if config.encoder_config is not None:
        encoder_config = Wav2Vec2Config(**config.encoder_config)
        encoder = Wav2Vec2Model(encoder_config) if initialise else uninitialised(Wav2Vec2Model, encoder_config)
    elif config.audio_encoder == "tiny":
        encoder = Wav2Vec2Model(Wav2Vec2Config(**TINY_ENCODER))
    elif config.audio_encoder == "base-random":
        encoder = Wav2Vec2Model(Wav2Vec2Config())
    else:
        encoder = _pretrained_encoder(config, allow_download)
        for parameter in encoder.parameters():
            parameter.requires_grad_(True)
    encoder.freeze_feature_encoder()  # the CNN stays frozen, as in the original
    return encoder


class FaceFormer(nn.Module):
    def __init__(self, config: FaceFormerConfig, allow_download: bool = False, initialise: bool = True):
        """``initialise=False``: the encoder's weights are not initialised (a checkpoint replaces them)."""
        super().__init__()
        self.config = config
        d = config.d_model
        self.audio_encoder = build_audio_encoder(config, allow_download, initialise)
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
    def n_audio_features(self, n_samples: int) -> int:
        """Number of 50 Hz CNN features wav2vec2 makes of ``n_samples`` of 16 kHz audio."""
        return int(self.audio_encoder._get_feat_extract_output_lengths(torch.tensor(int(n_samples))))

    def frames_from_features(self, n: int) -> int:
        """Frames the official ``predict`` makes of ``n`` CNN features: int(n / 50 * fps) when
        interpolated to the frame rate (VOCASET), n // 2 for 2 tokens per frame (BIWI)."""
        if self.config.tokens_per_frame == 1:
            return int(n / 50.0 * self.config.fps)
        return n // self.config.tokens_per_frame

    def frames_for_audio(self, n_samples: int) -> int:
        """Frames the official ``predict`` makes of ``n_samples`` of 16 kHz audio."""
        return self.frames_from_features(self.n_audio_features(n_samples))

    def encode_audio(self, audio: torch.Tensor, n_frames: int | None = None) -> tuple[torch.Tensor, int]:
        """audio (B, N) normalised 16 kHz -> memory (B, S, d) and the number of frames it covers.

        The 50 Hz CNN features are resampled before the projection and Transformer encoder, as
        the official audio encoder does: for 1 token per frame linearly (align_corners=True) to
        ``n_frames`` or, when ``n_frames`` is None (the official ``predict``), to int(n / 50 * fps);
        for 2 tokens per frame the last feature is dropped when their number is odd and, given
        ``n_frames``, features beyond 2 * n_frames are cut.
        """
        features = self.audio_encoder.feature_extractor(audio).transpose(1, 2)  # (B, n, C)
        n = features.shape[1]
        if self.config.tokens_per_frame == 1:
            usable = self.frames_from_features(n) if n_frames is None else int(n_frames)
            if usable < 1:
                raise ValueError(f"{audio.shape[1]} audio samples give no frame")
            features = F.interpolate(features.transpose(1, 2), size=usable, mode="linear", align_corners=True).transpose(1, 2)
        else:
            n -= n % 2
            if n_frames is not None:
                n = min(n, 2 * int(n_frames))
            features, usable = features[:, :n], n // 2
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
        """Displacements (B, T, V*3), each frame fed back as the next input token; the whole prefix is
        re-decoded at every step, as the official loop does (used in training: dropout is redrawn
        at every step as in the original)."""
        tokens = style[:, None]
        for _ in range(n_frames):
            output = self._decode(tokens, memory)
            if tokens.shape[1] == n_frames:
                return output
            tokens = torch.cat([tokens, self.vertice_map(output[:, -1:]) + style[:, None]], dim=1)
        return output

    def generate(self, memory: torch.Tensor, style: torch.Tensor, n_frames: int,
                 on_step: Callable[[int], None] | None = None) -> torch.Tensor:
        """The autoregressive loop with cached past keys/values (eval mode): displacements (B, T, V*3).

        ``memory`` (1 or B, S, d) is shared by the B styles (B, d), e.g. every speaker condition of
        one utterance; ``on_step(t)`` is called after each frame.
        """
        decoder = IncrementalDecoder(self.transformer_decoder.layers[0], memory, self.config.n_heads,
                                     self.config.period, self.config.tokens_per_frame, n_frames)
        positions = self.PPE.encoding(n_frames).to(style)
        token, outputs = style, []
        for t in range(n_frames):
            output = self.vertice_map_r(decoder.step(token + positions[t]))
            outputs.append(output)
            token = self.vertice_map(output) + style
            if on_step is not None:
                on_step(t + 1)
        return torch.stack(outputs, dim=1)

    def forward(self, audio: torch.Tensor, speaker: torch.Tensor, n_frames: int | None = None,
                displacement: torch.Tensor | None = None, teacher_forcing: bool | None = None) -> torch.Tensor:
        """audio (B, N), speaker (B,) -> displacements (B, T', V*3), T' = frames the audio covers
        (``n_frames`` None: the count the official ``predict`` derives from the audio).

        Training runs the official full-recompute loop (or teacher forcing); eval mode decodes
        incrementally, which gives the same outputs faster.
        """
        memory, usable = self.encode_audio(audio, n_frames)
        style = self.style(speaker)
        use_teacher = self.config.teacher_forcing if teacher_forcing is None else teacher_forcing
        if displacement is not None and use_teacher:
            return self.forward_teacher_forced(memory, style, displacement[:, :usable])
        if self.training or len(self.transformer_decoder.layers) != 1:
            return self.forward_autoregressive(memory, style, usable)
        return self.generate(memory, style, usable)
