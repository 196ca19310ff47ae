"""CodeTalker's two configurations, inferred from the official checkpoints' tensor shapes.

Stage 1 (the VQ-VAE, ``{vocaset,biwi}_stage1.pth.tar``) and stage 2 (the speech model,
``{vocaset,biwi}_stage2.pth.tar``).  What shapes cannot tell (attention head counts) takes the
official configs' values: 8 heads in the VQ-VAE's Transformer blocks, 4 in the stage-2 decoder.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from ...common.errors import UserError


@dataclass
class VQConfig:
    """The VQ-VAE: ``n_vertices`` (V), Transformer width ``hidden`` (1024), ``depth`` pre-norm
    blocks (6) of ``heads`` (8) and MLP width ``mlp`` (1536); codebook ``n_codes`` (256) x
    ``code_dim`` (64 VOCASET / 128 BIWI); ``codes_per_frame`` tokens per frame (16 / 8).
    ``projections``: the BIWI layout's extra linear layers (encoder_linear_embedding_post,
    decoder_linear_embedding_pre) between the Transformer width and codes_per_frame * code_dim;
    ``output_bias``: vertice_map_reverse has a bias (VOCASET) or not (BIWI)."""

    n_vertices: int
    hidden: int = 1024
    depth: int = 6
    heads: int = 8
    mlp: int = 1536
    n_codes: int = 256
    code_dim: int = 64
    codes_per_frame: int = 16
    projections: bool = False
    output_bias: bool = True
    negative_slope: float = 0.2
    beta: float = 0.25  # commitment weight of the quantiser loss (training)

    @property
    def frame_code_width(self) -> int:
        """Width of one frame's code vector: codes_per_frame * code_dim."""
        return self.codes_per_frame * self.code_dim

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> VQConfig:
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


@dataclass
class SpeechConfig:
    """Stage 2: width ``d_model`` (1024), ``layers`` post-norm decoder layers (6 VOCASET / 12 BIWI)
    of ``heads`` (4) and FFN ``ffn`` (2048); periodic positional encoding ``period`` (30 / 25);
    ``speakers`` (8 / 6 style rows, the training subjects in the official order); audio tokens
    per frame (1: wav2vec2 features interpolated to 30 fps; 2: BIWI).  The fields after
    ``tokens_per_frame`` describe the wav2vec2 encoder as FaceFormer's config does, so its
    encoder builder serves both models."""

    n_vertices: int
    speakers: tuple[str, ...]
    d_model: int = 1024
    layers: int = 6
    heads: int = 4
    ffn: int = 2048
    period: int = 30
    fps: float = 30.0
    tokens_per_frame: int = 1
    audio_encoder: str = "base"  # 'base' (pretrained wav2vec2-base-960h), 'tiny' (CPU demo), 'base-random' or a folder
    encoder_config: dict | None = None
    wav2vec2_model: str | None = None
    wav2vec2_weights: str = ""
    n_heads: int = field(init=False, default=4)  # FaceFormer's name, read by the shared encoder/mask code

    def __post_init__(self):
        self.speakers = tuple(self.speakers)
        self.n_heads = self.heads

    def to_dict(self) -> dict:
        values = asdict(self)
        values.pop("n_heads")
        return values

    @classmethod
    def from_dict(cls, values: dict) -> SpeechConfig:
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__ and k != "n_heads"})


def _shape(state: dict, key: str, path, ndim: int) -> tuple[int, ...]:
    value = state.get(key)
    if value is None:
        raise UserError(f"not a CodeTalker checkpoint: no '{key}' weights", path)
    if value.ndim != ndim:
        raise UserError(f"'{key}' has shape {tuple(value.shape)}, expected {ndim} dimensions", path)
    return tuple(int(s) for s in value.shape)


def _count(state: dict, pattern: str) -> int:
    found = {int(m.group(1)) for k in state if (m := re.match(pattern, k))}
    return max(found) + 1 if found else 0


def vq_config_from_state(state: dict, path=None) -> VQConfig:
    """A :class:`VQConfig` from a stage-1 state dict (keys ``encoder.*``, ``decoder.*``, ``quantize.*``)."""
    n_codes, code_dim = _shape(state, "quantize.embedding.weight", path, 2)
    out_dim, hidden = _shape(state, "decoder.vertice_map_reverse.weight", path, 2)
    if out_dim % 3:
        raise UserError(f"decoder.vertice_map_reverse maps to {out_dim} values, not a multiple of 3 (x, y, z)", path)
    blocks = _count(state, r"decoder\.decoder_transformer\.net\.(\d+)\.")
    if blocks == 0 or blocks % 2:
        raise UserError("not a CodeTalker stage-1 checkpoint: no decoder.decoder_transformer blocks", path)
    mlp = _shape(state, "decoder.decoder_transformer.net.1.fn.fn.l1.weight", path, 2)[0]
    projections = "decoder.decoder_linear_embedding_pre.net.weight" in state
    if projections:
        frame_code_width = _shape(state, "decoder.decoder_linear_embedding_pre.net.weight", path, 2)[1]
    else:
        frame_code_width = hidden
    if frame_code_width % code_dim:
        raise UserError(f"a frame's code width {frame_code_width} is not a multiple of the codebook width {code_dim}", path)
    if any(k.startswith("decoder.expander.1.") for k in state):
        raise UserError("this stage-1 checkpoint downsamples in time (quant_factor > 0); the released "
                        "checkpoints do not and only quant_factor 0 is supported", path)
    return VQConfig(n_vertices=out_dim // 3, hidden=hidden, depth=blocks // 2, mlp=mlp, n_codes=n_codes,
                    code_dim=code_dim, codes_per_frame=frame_code_width // code_dim, projections=projections,
                    output_bias="decoder.vertice_map_reverse.bias" in state)


def speech_config_from_state(state: dict, speakers: tuple[str, ...], path=None) -> SpeechConfig:
    """A :class:`SpeechConfig` from a stage-2 state dict; ``speakers`` name the style rows when
    their number matches (else speaker0..N-1).  Period 25 (BIWI: 2 audio tokens per frame, 25 fps)
    when the PPE buffer's length is a multiple of 25 but not of 30, else 30 (VOCASET)."""
    from ..official_weights import encoder_config_from_state

    d, _ = _shape(state, "audio_feature_map.weight", path, 2)
    _, vertex_values = _shape(state, "vertice_map.weight", path, 2)
    n_speakers, style_width = _shape(state, "learnable_style_emb.weight", path, 2)
    _, pe_length, pe_width = _shape(state, "PPE.pe", path, 3)
    _shape(state, "feat_map.weight", path, 2)
    layers = _count(state, r"transformer_decoder\.layers\.(\d+)\.")
    if layers == 0:
        raise UserError("not a CodeTalker stage-2 checkpoint: no transformer_decoder.layers weights", path)
    ffn = _shape(state, "transformer_decoder.layers.0.linear1.weight", path, 2)[0]
    if style_width != d or pe_width != d:
        raise UserError(f"stage-2 widths disagree: audio_feature_map {d}, learnable_style_emb {style_width}, PPE {pe_width}", path)
    period = 25 if pe_length % 25 == 0 and pe_length % 30 else 30
    biwi = period == 25
    if len(speakers) != n_speakers:
        speakers = tuple(f"speaker{i}" for i in range(n_speakers))
    try:
        encoder = encoder_config_from_state(state)
    except (UserError, KeyError) as exc:
        raise UserError(f"not a CodeTalker stage-2 checkpoint: {exc}", path) from None
    return SpeechConfig(n_vertices=vertex_values // 3, speakers=tuple(speakers), d_model=d, layers=layers, ffn=ffn,
                        period=period, fps=25.0 if biwi else 30.0, tokens_per_frame=2 if biwi else 1,
                        encoder_config=encoder)
