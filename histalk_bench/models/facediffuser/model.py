"""The FaceDiffuser network.  Attribute names follow the official state dicts (audio_encoder,
cond_projection, input_projection, time_mlp, norm_cond, gru, final_layer, obj_vector), so the
released ``pretrained_{BIWI,vocaset}.pth`` load unchanged (but for old weight-norm key names).

Shapes: D = 3 * n_vertices, L = latent width, H = HuBERT width (768 for base), k = audio
tokens per frame (2 at 25 and 30 fps), S = diffusion steps.  The denoiser maps a noised motion
x_t (B, T, D) -- absolute vertex positions, template included -- with the step, the audio
tokens (T, k*H) and a speaker one-hot to its estimate of x0 (B, T, D)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ...common.errors import UserError
from ...common.hub import missing_pretrained_message
from ..official_weights import TINY_ENCODER, uninitialised

AUDIO_FPS = 50  # HuBERT's last hidden state: one vector per 20 ms
DEFAULT_HUBERT = "facebook/hubert-base-ls960"


@dataclass
class FaceDiffuserConfig:
    n_vertices: int
    speakers: tuple[str, ...]
    fps: float = 30.0  # output frame rate: 30 VOCASET, 25 BIWI
    latent_dim: int = 256  # the official --feature_dim: 256 VOCASET, 512 BIWI
    gru_dim: int = 256  # --gru_dim (must equal latent_dim: the GRU output is scaled by the style)
    gru_layers: int = 2
    diffusion_steps: int = 1000  # 1000 VOCASET, 500 BIWI
    audio_encoder: str = "base"  # 'base' (pretrained HuBERT-base: the paper), 'tiny' (random, CPU demo),
    # 'base-random' (HuBERT-base shape, random init) or a folder with pretrained HuBERT weights
    hubert_model: str | None = None  # 'base': folder or hub id of the weights (None: facebook/hubert-base-ls960)
    hubert_weights: str = ""  # fingerprint of the pretrained weights used (folder) or the hub commit
    encoder_config: dict | None = None  # HubertConfig values (official checkpoints, saved runs)
    frozen_encoder_layers: tuple[int, ...] = (0, 1)  # the official training freezes these (and CNN + projection)
    select: str = "last"  # weights prediction uses: 'last' epoch (the official test) or 'best' validation epoch

    @property
    def tokens_per_frame(self) -> int:
        return audio_tokens_per_frame(self.fps)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "FaceDiffuserConfig":
        values = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        values["speakers"] = tuple(values.get("speakers", ()))
        values["frozen_encoder_layers"] = tuple(values.get("frozen_encoder_layers", (0, 1)))
        return cls(**values)


def audio_tokens_per_frame(fps: float) -> int:
    """How many 50 Hz audio vectors one motion frame takes: ceil(50 / fps) when 50 Hz is faster
    (2 at 25 and 30 fps), else 1."""
    fps = int(round(fps))
    return -(-AUDIO_FPS // fps) if AUDIO_FPS > fps else 1


def align_audio(hidden: torch.Tensor, n_frames: int, fps: float) -> torch.Tensor:
    """(1, N, H) 50 Hz audio states -> (1, T', k*H) tokens, one per motion frame, as the official
    ``adjust_input_representation``: when 50 is a multiple of the frame rate (BIWI, 25 fps) an odd
    last state is dropped and consecutive states are paired (T' = min(T, N // k): short audio
    yields fewer frames); otherwise the states are linearly resampled (align_corners) to T * k and
    grouped (T' = T)."""
    rate = int(round(fps))
    k = audio_tokens_per_frame(fps)
    if AUDIO_FPS % rate == 0:
        if hidden.shape[1] % 2:
            hidden = hidden[:, :-1]
        hidden = hidden[:, : n_frames * k]
        hidden = hidden[:, : hidden.shape[1] // k * k]
    else:
        hidden = F.interpolate(hidden.transpose(1, 2), size=n_frames * k, mode="linear", align_corners=True).transpose(1, 2)
    return hidden.reshape(1, hidden.shape[1] // k, hidden.shape[2] * k)


def usable_frames(n_states: int, n_frames: int, fps: float) -> int:
    """Frames :func:`align_audio` gives for ``n_states`` 50 Hz states and ``n_frames`` requested."""
    rate = int(round(fps))
    if AUDIO_FPS % rate == 0:
        return min(n_frames, (n_states - n_states % 2) // audio_tokens_per_frame(fps))
    return n_frames


def _pretrained_hubert(config: FaceDiffuserConfig, allow_download: bool):
    from transformers import HubertModel

    from ...features.wav2vec2 import hub_reachable, weights_fingerprint

    source = (config.hubert_model or DEFAULT_HUBERT) if config.audio_encoder == "base" else config.audio_encoder
    folder = Path(source).expanduser()
    try:
        if folder.exists():
            encoder = HubertModel.from_pretrained(str(folder), local_files_only=True)
            config.hubert_weights = weights_fingerprint(folder) if folder.is_dir() else ""
            return encoder
        local_only = not (allow_download and hub_reachable())
        encoder = HubertModel.from_pretrained(source, local_files_only=local_only)
    except (OSError, ValueError) as exc:
        if folder.exists():
            raise UserError(f"could not load HuBERT weights ({exc.__class__.__name__})", folder) from None
        raise UserError(missing_pretrained_message("FaceDiffuser's audio encoder", source, "--set hubert_model=", "--set audio_encoder=tiny")) from None
    config.hubert_weights = str(getattr(encoder.config, "_commit_hash", "") or "")
    return encoder


def build_audio_encoder(config: FaceDiffuserConfig, allow_download: bool = False, initialise: bool = True):
    """A transformers ``HubertModel``: the shape in ``encoder_config`` (official checkpoints, runs;
    left uninitialised with ``initialise=False``), a tiny or base-sized random one, or pretrained."""
    from transformers import HubertConfig, HubertModel

    if config.encoder_config is not None:
        encoder_config = HubertConfig(**config.encoder_config)
        return HubertModel(encoder_config) if initialise else uninitialised(HubertModel, encoder_config)
    if config.audio_encoder == "tiny":
        return HubertModel(HubertConfig(**TINY_ENCODER))
    if config.audio_encoder == "base-random":
        return HubertModel(HubertConfig())
    return _pretrained_hubert(config, allow_download)


class FaceDiffuser(nn.Module):
    def __init__(self, config: FaceDiffuserConfig, allow_download: bool = False, initialise: bool = True):
        super().__init__()
        if config.gru_dim != config.latent_dim:
            raise UserError(f"FaceDiffuser needs gru_dim == latent_dim (got {config.gru_dim} and {config.latent_dim})")
        self.config = config
        latent, n_out = config.latent_dim, 3 * config.n_vertices
        self.audio_encoder = build_audio_encoder(config, allow_download, initialise)
        width = self.audio_encoder.config.hidden_size * config.tokens_per_frame
        self.cond_projection = nn.Linear(width, latent)
        self.input_projection = nn.Sequential(nn.Linear(n_out, 2 * latent), nn.Conv1d(1, 1, kernel_size=9, padding="same"),
                                              nn.ReLU(), nn.MaxPool1d(kernel_size=2, stride=2), nn.ReLU())
        self.time_mlp = nn.Sequential(nn.Linear(config.diffusion_steps, latent), nn.Mish())
        self.norm_cond = nn.LayerNorm(3 * latent)
        self.gru = nn.GRU(3 * latent, config.gru_dim, num_layers=config.gru_layers, batch_first=True, dropout=0.3)
        self.final_layer = nn.Linear(config.gru_dim, n_out)
        nn.init.zeros_(self.final_layer.weight)
        nn.init.zeros_(self.final_layer.bias)
        self.obj_vector = nn.Linear(max(1, len(config.speakers)), latent, bias=False)
        self.freeze_as_official()

    def freeze_as_official(self) -> None:
        """The official training freezes HuBERT's CNN, its feature projection and encoder layers 0 and 1."""
        for name, parameter in self.audio_encoder.named_parameters():
            layer = name.split(".")[2] if name.startswith("encoder.layers.") else None
            if name.startswith(("feature_extractor.", "feature_projection.")) or \
                    (layer is not None and int(layer) in self.config.frozen_encoder_layers):
                parameter.requires_grad_(False)

    # ----- conditioning (independent of the diffusion step: computed once per sequence)
    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """(1, N) normalised 16 kHz audio -> (1, N', H) HuBERT last hidden states at 50 Hz."""
        return self.audio_encoder(audio).last_hidden_state

    def audio_condition(self, hidden: torch.Tensor, n_frames: int) -> torch.Tensor:
        """(1, N', H) states -> (1, T', L) projected audio tokens (see :func:`align_audio`)."""
        return self.cond_projection(align_audio(hidden, n_frames, self.config.fps))

    def style(self, speakers: torch.Tensor) -> torch.Tensor:
        """(B,) speaker indices -> (B, L) style vectors."""
        return self.obj_vector(F.one_hot(speakers, self.obj_vector.in_features).float())

    def step_embedding(self, steps: torch.Tensor) -> torch.Tensor:
        """(B,) long diffusion steps -> (B, L) (the one-hot step through ``time_mlp``)."""
        return self.time_mlp(F.one_hot(steps, self.config.diffusion_steps).float())

    # ----- the denoiser
    def denoise(self, x_t: torch.Tensor, step_embedding: torch.Tensor, audio: torch.Tensor, style: torch.Tensor,
                template: torch.Tensor) -> torch.Tensor:
        """x0 estimate (B, T', D) from x_t (B, T, D), step embeddings (B or 1, L), audio tokens
        (B or 1, T', L), styles (B, L) and flattened templates (B or 1, D)."""
        batch, n_frames, n_out = x_t.shape
        motion = self.input_projection(x_t.reshape(batch * n_frames, 1, n_out)).view(batch, n_frames, -1)
        usable = audio.shape[1]
        motion = motion[:, :usable]
        tokens = torch.cat([audio.expand(batch, -1, -1), motion,
                            step_embedding[:, None].expand(batch, usable, -1)], dim=-1)
        output, _ = self.gru(self.norm_cond(tokens))
        return self.final_layer(output * style[:, None]) + template[:, None]

    def forward(self, x_t: torch.Tensor, steps: torch.Tensor, audio: torch.Tensor, speakers: torch.Tensor,
                template: torch.Tensor) -> torch.Tensor:
        """Training path, batch 1 as the original: x_t (1, T, D), steps (1,), normalised audio (1, N),
        speakers (1,), template (1, D) -> x0 estimate (1, T', D) (audio encoded with gradients)."""
        condition = self.audio_condition(self.encode_audio(audio), x_t.shape[1])
        return self.denoise(x_t, self.step_embedding(steps), condition, self.style(speakers), template)
