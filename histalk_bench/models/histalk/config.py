"""HiSTalk hyper-parameters and ablation switches (saved with every run)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

LEVELS = ("frame", "phone", "word", "utterance")
COMBINE_MODES = ("residual", "joint", "d_only", "c_only")
UNIT_SOURCES = ("aligned", "statistical", "auto")
HSF2S_CONFIGS = ("aligned", "speechformer")
ARCHITECTURE = 3  # bumped when checkpoints of older runs no longer fit the modules
# set from the training cache (or by the toolkit), never through --set
DERIVED = {
    "n_vertices": "the cache's vertex count", "n_landmarks": "the cache's landmark map",
    "feature_layers": "the cached features' shape", "feature_dim": "the cached features' shape",
    "speakers": "the cache's training subjects", "fps": "the cache's frame rate",
    "motion_scale": "the training lip RMS measured when the run starts", "architecture": "the code version",
    "extra": "what the run records", "cmg_rank": "chosen from cmg_variance on the training motion",
    "frame_only_layers": "matched to the full model's parameter count", "frame_only_s2d_layers":
    "matched to the full model's parameter count",
}
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
    # HSF2S configuration: 'speechformer' (the paper's: SpeechFormer++'s statistical units, sliding
    # windows) or 'aligned' (forced-aligned units; attention pattern from ``attention``)
    hsf2s: str = "aligned"
    # local attention of each stage under hsf2s=aligned: 'unit' = frames attend within their phone,
    # phones within their word, words within +- word_window words (the word tokens already span
    # the ~1 s chunk); 'window' = sliding windows of +- the sizes below in tokens (SpeechFormer++ at
    # a 20 ms hop: 50 ms = 3 frames, 400 ms = 11 phone tokens, 2000 ms = 9 word tokens); the
    # utterance stage is global.  hsf2s=speechformer always uses the windows.  Every token also
    # attends to the learnable word token of its ~1 s span, updated first in each layer.
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
    cmg_basis: int = 8  # at most this many PCA components ...
    cmg_variance: float = 0.9  # ... the fewest explaining this fraction of the low-passed training motion
    cmg_cutoff_hz: float = 2.0  # C is temporally low-passed (Gaussian, -3 dB at this frequency)
    cmg_rank: int = 0  # derived: the rank chosen when the run starts (0: not chosen yet, cmg_basis)
    # levels=frame: a single-level model whose depth is matched to the full model's parameter count
    frame_only_layers: int = 0  # derived: frame-stage layers (0: sum of stage_layers)
    frame_only_s2d_layers: int = 0  # derived: layers of its one S2D branch (0: s2d_layers)
    # style
    speakers: tuple[str, ...] = ()
    use_style: bool = True
    # ablations
    levels: tuple[str, ...] = LEVELS  # drop a level by leaving it out
    use_cmg: bool = True
    use_se_gate: bool = True  # False: equal weights 1/n_levels
    # unit source: 'aligned' (forced-alignment tiers) or 'auto' (aligned when every training
    # sequence has tiers, else SpeechFormer++'s statistical units, said at training time); the
    # run stores the resolved source ('aligned' or 'statistical', the latter always with hsf2s=speechformer)
    units: str = "auto"
    # M = C + D with D fitting the residual (C detached in L_f, 'residual'), with L_f also
    # training C ('joint'), M = D ('d_only'), or trained as 'residual' but M = C ('c_only': what D adds)
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
        if self.hsf2s not in HSF2S_CONFIGS:
            raise ValueError(f"hsf2s must be one of {HSF2S_CONFIGS}, got '{self.hsf2s}'")
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
        if self.se_window % 2 == 0:
            raise ValueError(f"se_window must be odd (a window centred on its frame), got {self.se_window}")
        if not 0 < self.cmg_variance <= 1:
            raise ValueError(f"cmg_variance must be in (0, 1], got {self.cmg_variance}")
        if self.cmg_cutoff_hz < 0:
            raise ValueError(f"cmg_cutoff_hz must be >= 0 (0: no low-pass), got {self.cmg_cutoff_hz}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.d_model % self.n_heads:
            raise ValueError("d_model must be a multiple of n_heads")

    @property
    def frame_only(self) -> bool:
        """levels=frame: the fair single-level model (no units, no word tokens, one S2D branch)."""
        return tuple(self.levels) == ("frame",)

    @property
    def attention_pattern(self) -> str:
        """'window' or 'unit': what the HSF2S stages actually use."""
        return "window" if self.hsf2s == "speechformer" else self.attention

    @property
    def basis_size(self) -> int:
        return self.cmg_rank or self.cmg_basis

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
    they describe would not read, or that are derived from the cache and the training data."""
    config = HiSTalkConfig.from_dict(values)
    reasons = {key: f"set from {why}" for key, why in DERIVED.items() if key in values}
    unused: dict[str, str] = {}
    if config.frame_only:
        single = "levels=frame is a single-level model without units"
        for key in ("units", "attention", "use_word_tokens", "frame_window", "phone_window", "word_window",
                    "hsf2s", "use_se_gate", "se_window", "se_hidden"):
            unused[key] = single
    else:
        if config.hsf2s == "speechformer":
            for key in ("units", "attention"):
                unused[key] = "hsf2s=speechformer uses SpeechFormer++'s statistical units and windows"
        elif config.attention == "unit":
            for key in ("frame_window", "phone_window"):
                unused[key] = "attention=unit groups frames by phone and phones by word"
        if not config.use_se_gate or len(config.levels) < 2:
            for key in ("se_window", "se_hidden"):
                unused[key] = "the SE gate is off (equal level weights)"
    if not config.use_cmg:
        for key in ("cmg_layers", "cmg_basis", "cmg_variance", "cmg_cutoff_hz", "w_coarse", "combine"):
            unused[key] = "the CMG is off (use_cmg=false, M = D)"
    reasons.update({key: f"not read: {why}" for key, why in unused.items() if key in values})
    return reasons
