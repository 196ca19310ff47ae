"""``train selftalk``: the paper's objective through the shared training loop.

Loss per sequence (batch size 1, as the original)::

    1000 * MSE(vertices) + 1000 * MSE(velocities) + 0.001 * MSE(lip features, text features) + 0.0001 * CTC

The last two terms are the lip-reading consistency branch: the predicted lip-vertex displacements
go through ``lip_map`` (Linear 3 * lip entries -> width), are resampled to the 50 Hz rate of a
frozen CTC speech recogniser (``text_encoder``, a Wav2Vec2ForCTC), through an ``nn.Transformer``
called as transformer(x, x) and ``lm_head``; the lip features are pulled towards the recogniser's
last hidden states and the lip logits are trained with CTC against the recogniser's greedy
transcript.  Module names are the release's, so a run's weights have the official layout.

What needs weights that are not shipped: the paper's audio encoder and recogniser are both
jonatasgrosman/wav2vec2-large-xlsr-53-english (``--wav2vec2-model DIR``; the recogniser can also
come from a released vocaset.pth / BIWI.pth, whose ``text_encoder.*`` is that frozen copy).
Without them ``audio_encoder=tiny`` with ``text_encoder=tiny`` is the CPU demo (random weights:
the consistency terms then only exercise the code) and ``text_encoder=none`` drops the branch.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...cache import Cache
from ...common.errors import UserError
from ..data import WholeSequences, collate_whole
from ..training import TrainOptions, fit
from .model import DATASETS, TINY_ENCODER, SelfTalk, SelfTalkConfig

LOSS_WEIGHTS = {"vertex": 1000.0, "velocity": 1000.0, "lip_feature": 0.001, "ctc": 0.0001}
AUDIO_ENCODERS = ("xlsr", "tiny")
PAPER_ENCODER = "jonatasgrosman/wav2vec2-large-xlsr-53-english"


@dataclass
class LipReadingConfig:
    """The consistency branch: ``text_encoder`` 'same' (Wav2Vec2ForCTC from the --wav2vec2-model
    folder, the paper's), a released SelfTalk .pth (its text_encoder.* tensors), a Wav2Vec2ForCTC
    folder, 'tiny' (random, demo) or 'none' (no branch)."""

    text_encoder: str = "same"
    lip_entries: int = 0  # lip vertex ids used (the cache's 'lip' region)
    layers: int = 6  # nn.Transformer defaults: 6 + 6 layers, 8 heads, FFN 2048
    heads: int = 8
    ffn: int = 2048
    word_delimiter_id: int = 4  # '|' in the xlsr-53-english vocabulary (blank/pad is 0)


def missing_encoder_message(folder: str) -> str:
    name = PAPER_ENCODER.rsplit("/", 1)[-1]
    return (f"SelfTalk's audio encoder and lip-reading recogniser are pretrained {PAPER_ENCODER} and no weights were "
            f"given{' at ' + folder if folder else ''}: on a machine with network run 'hf download {PAPER_ENCODER} "
            f"--local-dir {name}' and pass --wav2vec2-model PATH/{name}; --set audio_encoder=tiny --set "
            f"text_encoder=tiny is the CPU demo configuration (random weights, not the paper's)")


def _ctc_from_folder(folder: str):
    from transformers import Wav2Vec2ForCTC

    path = Path(folder).expanduser()
    if not (path / "config.json").is_file():
        raise UserError(missing_encoder_message(str(path)))
    try:
        return Wav2Vec2ForCTC.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise UserError(f"could not load a Wav2Vec2ForCTC recogniser ({exc.__class__.__name__})", path) from None


def _ctc_from_release(path: Path):
    """The frozen recogniser stored in a released SelfTalk file (text_encoder.*), memory-mapped."""
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    from ..official_weights import encoder_config_from_state, rename_weight_norm

    saved = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    state = rename_weight_norm({k[len("text_encoder."):]: v for k, v in saved.items() if k.startswith("text_encoder.")})
    if "lm_head.weight" not in state:
        raise UserError("no text_encoder.* lip-reading recogniser weights in this file", path)
    config = encoder_config_from_state(state, "wav2vec2.")
    model = Wav2Vec2ForCTC(Wav2Vec2Config(**config, vocab_size=int(state["lm_head.weight"].shape[0])))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("masked_spec_embed")]
    if missing or unexpected:
        raise UserError(f"text_encoder.* does not match a Wav2Vec2ForCTC: missing {missing[:2]}, unexpected {unexpected[:2]}", path)
    return model


def build_text_encoder(spec: str, wav2vec2_model: str | None):
    """The frozen Wav2Vec2ForCTC recogniser named by ``spec`` (see :class:`LipReadingConfig`)."""
    if spec == "tiny":
        from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

        model = Wav2Vec2ForCTC(Wav2Vec2Config(**TINY_ENCODER, vocab_size=33))
    elif spec == "same":
        model = _ctc_from_folder(wav2vec2_model or "")
    elif Path(spec).expanduser().is_file():
        model = _ctc_from_release(Path(spec).expanduser())
    elif Path(spec).expanduser().is_dir():
        model = _ctc_from_folder(spec)
    else:
        raise UserError(f"text_encoder must be same, tiny, none, a Wav2Vec2ForCTC folder or a released SelfTalk .pth, not '{spec}'")
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def vocabulary_delimiter(text_encoder: str, wav2vec2_model: str | None) -> int:
    """The id of '|' in the recogniser folder's vocab.json; 4 (its id in the xlsr-53-english
    vocabulary) when the recogniser has no vocabulary file (a released .pth, tiny)."""
    folder = Path(wav2vec2_model or "") if text_encoder == "same" else Path(text_encoder).expanduser()
    vocab = folder / "vocab.json"
    if folder.is_dir() and vocab.is_file():
        try:
            return int(json.loads(vocab.read_text())["|"])
        except (ValueError, KeyError, TypeError):
            raise UserError("vocab.json has no '|' word delimiter: pass --set word_delimiter_id=N", vocab) from None
    return 4


def greedy_ctc_targets(logits: torch.Tensor, blank: int = 0, delimiter: int = 4) -> torch.Tensor:
    """(S, vocab) recogniser logits -> token ids of its greedy transcript: arg-max per frame, repeats
    merged, blanks dropped, runs of word delimiters merged and none at the ends (what decoding
    to text and tokenising again gives in the original)."""
    ids = torch.unique_consecutive(logits.argmax(-1))
    ids = ids[ids != blank]  # a blank between two equal tokens keeps both
    if len(ids) > 1:  # delimiters made adjacent by dropping blanks: one word boundary
        first = torch.ones(1, dtype=torch.bool, device=ids.device)
        ids = ids[torch.cat([first, ~((ids[1:] == delimiter) & (ids[:-1] == delimiter))])]
    start, end = int(len(ids) > 0 and ids[0] == delimiter), len(ids) - int(len(ids) > 1 and ids[-1] == delimiter)
    return ids[start:max(start, end)]


class SelfTalkTraining(SelfTalk):
    """SelfTalk with the lip-reading consistency branch (text_encoder, lip_map, transformer, lm_head)."""

    def __init__(self, config: SelfTalkConfig, lip: LipReadingConfig, lip_ids: np.ndarray | None,
                 audio_encoder: nn.Module | None = None, text_encoder: nn.Module | None = None):
        super().__init__(config, audio_encoder=audio_encoder)
        self.lip = lip
        self.text_encoder = text_encoder
        if text_encoder is not None:
            width, vocab = text_encoder.config.hidden_size, text_encoder.lm_head.out_features
            if width % lip.heads:
                raise UserError(f"lip_heads={lip.heads} does not divide the recogniser's width {width}")
            self.register_buffer("lip_ids", torch.as_tensor(lip_ids, dtype=torch.long), persistent=False)
            self.lip_map = nn.Linear(3 * len(lip_ids), width)
            self.transformer = nn.Transformer(d_model=width, nhead=lip.heads, num_encoder_layers=lip.layers,
                                              num_decoder_layers=lip.layers, dim_feedforward=lip.ffn, batch_first=True)
            self.lm_head = nn.Linear(width, vocab)

    def losses(self, audio: torch.Tensor, motion: torch.Tensor) -> dict[str, torch.Tensor]:
        """audio (1, N), motion (1, T, V * 3) displacements -> the four loss terms (unweighted)."""
        frames = self.encode_audio(audio, motion.shape[1])
        predicted = self.decode(frames)
        target = motion[:, : predicted.shape[1]]
        out = {"vertex": F.mse_loss(predicted, target),
               "velocity": F.mse_loss(predicted[:, 1:] - predicted[:, :-1], target[:, 1:] - target[:, :-1])}
        if self.text_encoder is None:
            return out
        text_hidden, text_logits = self._recogniser(audio)
        if self.config.features_per_frame == 2:
            text_hidden, text_logits = text_hidden[:, : 2 * predicted.shape[1]], text_logits[:, : 2 * predicted.shape[1]]
        n_text = text_hidden.shape[1]
        lips = predicted.view(1, predicted.shape[1], -1, 3)[:, :, self.lip_ids].reshape(1, predicted.shape[1], -1)
        lip_offset = F.interpolate(self.lip_map(lips).transpose(1, 2), size=n_text, mode="linear",
                                   align_corners=True).transpose(1, 2)
        lip_features = self.transformer(lip_offset, lip_offset)
        log_probs = F.log_softmax(self.lm_head(lip_features), dim=-1, dtype=torch.float32).transpose(0, 1)
        targets = greedy_ctc_targets(text_logits[0], 0, self.lip.word_delimiter_id)[None]
        out["lip_feature"] = F.mse_loss(lip_features, text_hidden)
        out["ctc"] = F.ctc_loss(log_probs, targets, torch.tensor([log_probs.shape[0]]), torch.tensor([targets.shape[1]]),
                                blank=0, reduction="mean", zero_infinity=True)
        return out

    def _recogniser(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The frozen recogniser's last hidden states (1, S, width) and logits (1, S, vocab); it follows
        the network's train/eval mode as in the original (dropout and time masking while training)."""
        with torch.no_grad():
            hidden = self.text_encoder.wav2vec2(audio).last_hidden_state
            return hidden, self.text_encoder.lm_head(self.text_encoder.dropout(hidden))


class SelfTalkTask:
    def __init__(self, model: SelfTalkTraining, settings: dict, lip_region: np.ndarray | None):
        self.model, self.settings = model, settings
        self.lve_ids = None if lip_region is None else torch.as_tensor(lip_region, dtype=torch.long)

    def loss(self, model, batch):
        terms = model.losses(batch["audio"], batch["motion"])
        total = sum(LOSS_WEIGHTS[name] * value for name, value in terms.items())
        return total, {name: float(value.detach()) for name, value in terms.items()}

    def validate(self, model, batch):
        """The original's validation loss: vertex MSE at the ground-truth frame count; LVE on the lip region."""
        motion = batch["motion"]
        predicted = model(batch["audio"], motion.shape[1])
        error = predicted - motion[:, : predicted.shape[1]]
        out = {"loss": float(torch.mean(error ** 2))}
        if self.lve_ids is not None:
            lips = error.view(*error.shape[:2], -1, 3)[:, :, self.lve_ids.to(error.device)]
            out.update(lve_sum=float((lips ** 2).sum(-1).amax(-1).sum()), frames=float(error.shape[1]))
        return out

    def run_config(self) -> dict:
        return {"model": "selftalk", "selftalk": self.model.config.to_dict(), "lip_reading": asdict(self.model.lip),
                **self.settings}


def _train_options(options: dict) -> TrainOptions:
    """The original's optimisation unless overridden: Adam 1e-4, batch 1, 100 epochs, the last
    epoch's weights, no early stopping, no gradient clipping."""
    unknown = set(options) - set(TrainOptions.__dataclass_fields__)
    if unknown:
        raise UserError(f"unknown selftalk option(s): {', '.join(sorted(unknown))}")
    if options.get("batch_size", 1) != 1:
        raise UserError("SelfTalk trains with batch size 1 (as the original): drop --batch-size")
    return TrainOptions(**{"epochs": 100, "lr": 1e-4, "patience": 0, "grad_clip": 0.0, **options, "batch_size": 1})


def _audio_encoder(audio_encoder: str, wav2vec2_model: str | None):
    """(encoder module or None for a fresh tiny one, its Wav2Vec2Config dict, where it came from)."""
    if audio_encoder == "tiny":
        return None, dict(TINY_ENCODER), "tiny (random initialisation; the CPU demo)"
    from ...features.wav2vec2 import load_wav2vec2, weights_fingerprint

    folder = Path(wav2vec2_model or "").expanduser()
    if not wav2vec2_model or not (folder / "config.json").is_file():
        raise UserError(missing_encoder_message(wav2vec2_model or ""))
    encoder = load_wav2vec2(str(folder))
    for parameter in encoder.parameters():
        parameter.requires_grad_(True)
    encoder.freeze_feature_encoder()  # the CNN stays frozen, as in the original
    config = json.loads(encoder.config.to_json_string())
    return encoder, config, f"{folder.name} (weights {weights_fingerprint(folder)})"


def train(cache_path: str | os.PathLike, out_dir: str | os.PathLike, *, audio_encoder: str = "xlsr",
          wav2vec2_model: str | None = None, text_encoder: str | None = None, d_model: int | None = None,
          lip_layers: int = 6, lip_heads: int = 8, lip_ffn: int = 2048, word_delimiter_id: int | None = None,
          select: str = "last", allow_download: bool = False, **options) -> Path:
    """Train SelfTalk with the paper's losses (see the module docstring).  ``audio_encoder``: 'xlsr'
    (pretrained, from ``wav2vec2_model``, a local folder) or 'tiny' (the CPU demo); ``text_encoder``:
    see :class:`LipReadingConfig` (default 'same' with xlsr, 'tiny' with tiny); ``d_model`` 512
    (VOCASET) / 1024 (BIWI); ``lip_*``: the branch's nn.Transformer (the original's defaults);
    ``select``: 'last' epoch (the official test) or 'best' validation epoch."""
    if "features" in options:
        raise UserError("selftalk encodes raw audio: --features does not apply to it")
    if allow_download:
        raise UserError("selftalk loads its pretrained weights only from a local folder (--wav2vec2-model DIR): drop --allow-download")
    if audio_encoder not in AUDIO_ENCODERS:
        raise UserError(f"audio_encoder must be xlsr (the paper's, with --wav2vec2-model DIR) or tiny (the CPU demo), not '{audio_encoder}'")
    if wav2vec2_model is not None and audio_encoder != "xlsr":
        raise UserError(f"--wav2vec2-model gives pretrained weights for audio_encoder=xlsr, not '{audio_encoder}'")
    if select not in ("last", "best"):
        raise UserError(f"select must be 'last' (the final epoch, as the official test) or 'best', not '{select}'")
    text_encoder = text_encoder or ("same" if audio_encoder == "xlsr" else "tiny")
    if text_encoder == "same" and audio_encoder != "xlsr":
        raise UserError("text_encoder=same takes the recogniser from --wav2vec2-model (audio_encoder=xlsr)")
    train_options = _train_options(options)
    cache = Cache(cache_path)
    if not cache.sequences("train"):
        raise UserError("no training sequences (split 'train')", cache_path)
    dataset = "biwi" if cache.dataset == "biwi" else "vocaset"
    if abs(cache.fps - DATASETS[dataset][0]) > 1e-6:
        raise UserError(f"SelfTalk's {dataset} layout runs at {DATASETS[dataset][0]:g} fps, the cache at {cache.fps:g}", cache_path)
    lip_region = cache.regions().get("lip")
    if text_encoder != "none" and lip_region is None:
        raise UserError("the lip-reading consistency branch needs the cache's 'lip' region (prepare with region files), "
                        "or --set text_encoder=none to train without it (not the paper's)", cache_path)
    encoder, encoder_config, encoder_source = _audio_encoder(audio_encoder, wav2vec2_model)
    torch.manual_seed(train_options.seed)
    recogniser = None if text_encoder == "none" else build_text_encoder(text_encoder, wav2vec2_model)
    d = d_model or (1024 if dataset == "biwi" else 512)
    config = SelfTalkConfig(n_vertices=cache.n_vertices, dataset=dataset, d_model=d, dim_feedforward=2 * d,
                            encoder_config=encoder_config)
    if word_delimiter_id is None:
        word_delimiter_id = vocabulary_delimiter(text_encoder, wav2vec2_model)
    lip = LipReadingConfig(text_encoder=text_encoder, lip_entries=0 if recogniser is None else len(lip_region),
                           layers=lip_layers, heads=lip_heads, ffn=lip_ffn, word_delimiter_id=word_delimiter_id)
    model = SelfTalkTraining(config, lip, lip_region, audio_encoder=encoder, text_encoder=recogniser)
    settings = {"audio_encoder": encoder_source, "select": select,
                "text_encoder_source": text_encoder if text_encoder in ("tiny", "none", "same") else str(Path(text_encoder).resolve())}
    val = WholeSequences(cache_path, "val") if cache.sequences("val") else None
    fit(SelfTalkTask(model, settings, lip_region), WholeSequences(cache_path, "train"), val, out_dir, train_options,
        collate_whole)
    return Path(out_dir)


def run_selection(run_dir: str | os.PathLike) -> str:
    """A run's ``select`` ('last' or 'best') from RUN/config.json ('best' when unreadable)."""
    try:
        return json.loads((Path(run_dir) / "config.json").read_text())["task"].get("select", "best")
    except (OSError, ValueError, KeyError):
        return "best"
