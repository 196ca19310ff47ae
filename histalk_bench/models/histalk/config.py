"""HiSTalk hyper-parameters and ablation switches (saved with every run)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

LEVELS = ("frame", "phone", "word", "utterance")
COMBINE_MODES = ("residual", "joint", "d_only")
UNIT_SOURCES = ("aligned", "statistical", "auto")
ARCHITECTURE = 2  # bumped when checkpoints of older runs no longer fit the modules
ACOUSTIC_RATE = 50.0  # Hz: HSF2S and the CMG encoder run at the wav2vec2 frame rate


@dataclass
class HiSTalkConfig:
    # sizes
    n_vertices: int = 0
    n_landmarks: int = 0
    feature_layers: int = 1
    feature_dim: int = 768
    d_model: int = 64
    n_heads: int = 4
    # SpeechFormer++ layers per stage [frame, phone, word, utterance] (post-LN, FFN d/2)
    stage_layers: tuple[int, int, int, int] = (2, 2, 4, 4)
    # local attention of each stage: 'unit' = tokens attend within their enclosing unit (frames
    # within a phone, phones within a word, words within an utterance chunk; the utterance stage
    # is global); 'window' = sliding windows of +- the sizes below in tokens (SpeechFormer++ at a
    # 20 ms hop: 50 ms = 3 frames, 400 ms = 11 phone tokens, 2000 ms = 9 word tokens).  In both
    # modes every token also attends to the learnable word token of its ~1 s span.
    attention: str = "unit"
    frame_window: int = 1  # tokens each side
    phone_window: int = 5
    word_window: int = 4
    use_word_tokens: bool = True
    dropout: float = 0.1
    # SE weight generation: temporal squeeze window (mesh frames) and bottleneck width
    se_window: int = 9
    se_hidden: int = 64
    # S2D: Transformer layers per branch (self-attention + cross-attention to the level's features)
    s2d_layers: int = 1
    # CMG: light Transformer over the mixed feature layers -> coefficients of a PCA motion basis
    cmg_layers: int = 2
    cmg_basis: int = 8
    # style
    speakers: tuple[str, ...] = ()
    use_style: bool = True
    # ablations
    levels: tuple[str, ...] = LEVELS  # drop a level by leaving it out
    use_cmg: bool = True
    use_se_gate: bool = True  # False: equal weights 1/n_levels
    units: str = "auto"  # 'aligned' (forced-alignment tiers), 'statistical' (SpeechFormer++ windows) or 'auto'
    # M = C + D with D fitting the residual (C detached in L_f, 'residual'), with L_f also
    # training C ('joint'), or M = D ('d_only')
    combine: str = "residual"
    # data
    feature: str = "wav2vec2"
    fps: float = 30.0  # mesh frame rate of the training cache
    motion_scale: float = 1.0  # data units per model unit (RMS of training lip displacements)
    architecture: int = ARCHITECTURE
    # losses
    w_coarse: float = 1.0
    w_sparse: float = 1.0
    w_dense: float = 1.0
    w_mouth: float = 1.0
    w_lip: float = 1.0
    w_velocity: float = 0.5
    extra: dict = field(default_factory=dict)

    def validate(self) -> None:
        unknown = [level for level in self.levels if level not in LEVELS]
        if unknown or not self.levels:
            raise ValueError(f"levels must be a non-empty subset of {LEVELS}, got {self.levels}")
        if self.combine not in COMBINE_MODES:
            raise ValueError(f"combine must be one of {COMBINE_MODES}")
        if self.attention not in ("unit", "window"):
            raise ValueError("attention must be 'unit' or 'window'")
        if self.units not in UNIT_SOURCES:
            raise ValueError(f"units must be one of {UNIT_SOURCES}")
        if len(self.stage_layers) != 4 or min(self.stage_layers) < 1:
            raise ValueError("stage_layers must be 4 positive layer counts (frame, phone, word, utterance)")
        sizes = ("d_model", "n_heads", "feature_dim", "se_window", "se_hidden", "s2d_layers", "cmg_layers", "cmg_basis")
        small = [f"{name}={getattr(self, name)}" for name in sizes if getattr(self, name) < 1]
        if small:
            raise ValueError(f"sizes must be >= 1, got {', '.join(small)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.d_model % self.n_heads:
            raise ValueError("d_model must be a multiple of n_heads")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "HiSTalkConfig":
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        for key in ("stage_layers", "speakers", "levels"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


def unused_options(values: dict) -> dict[str, str]:
    """{key: reason} for the options in ``values`` (as given through --set) that the configuration
    they describe would not read.  (The HiSTalk issue fills this in; HiSTalkEntry.unused_options
    calls it, so every command refuses such keys the same way.)"""
    return {}
