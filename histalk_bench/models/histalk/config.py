"""HiSTalk hyper-parameters and ablation switches (saved with every run)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

LEVELS = ("frame", "phone", "word", "utterance")
COMBINE_MODES = ("residual", "sum_detached", "d_only")


@dataclass
class HiSTalkConfig:
    # sizes
    n_vertices: int = 0
    n_landmarks: int = 0
    feature_layers: int = 1
    feature_dim: int = 80
    d_model: int = 64
    n_heads: int = 4
    cmg_layers: int = 2
    # SpeechFormer++-style layers per stage [frame, phone, word, utterance]
    stage_layers: tuple[int, int, int, int] = (1, 1, 1, 1)
    # local attention of each stage: 'unit' = tokens attend within their enclosing unit (frames
    # within a phone, phones within a word, words within an utterance chunk; the utterance stage
    # is global); 'window' = sliding windows of +- the sizes below (SpeechFormer++'s 400 ms / 2000 ms
    # windows are about 11 phone and 9 word tokens wide)
    attention: str = "unit"
    frame_window: int = 3  # frames each side
    phone_window: int = 5  # phone units each side
    word_window: int = 4  # word units each side
    dropout: float = 0.1
    # style
    speakers: tuple[str, ...] = ()
    use_style: bool = True
    # ablations
    levels: tuple[str, ...] = LEVELS  # drop a level by leaving it out
    use_cmg: bool = True
    use_se_gate: bool = True
    units: str = "aligned"  # 'aligned' (forced alignment tiers) or 'statistical'
    combine: str = "residual"  # M = C + D ('residual'), C.detach() + D ('sum_detached'), or D ('d_only')
    # data
    feature: str = "mel"
    fps: float = 30.0  # mesh frame rate of the training cache
    motion_scale: float = 1.0  # data units per model unit (RMS of training displacements)
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
        if self.units not in ("aligned", "statistical"):
            raise ValueError("units must be 'aligned' or 'statistical'")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "HiSTalkConfig":
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        for key in ("stage_layers", "speakers", "levels"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)
