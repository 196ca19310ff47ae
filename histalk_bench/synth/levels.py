"""Word- and utterance-level motion effects of the synthetic corpus, their knobs and their truth.

Phone level (always on, in ``face.activations``): viseme targets with coarticulation, a small
brow co-activation that follows the jaw, random blinks.  On top of it, with strengths
``w`` (word knob) and ``u`` (utterance knob) in [0, 1]:

- word: primary-stressed vowels open the jaw and spread the lips ``1 + STRESS_GAIN * w`` times
  more; every content word raises the brows (``ACCENT_BROW * w``, a Gaussian centred on its
  stressed vowel); the mouth (jaw, rounding, spreading) relaxes towards rest at every word boundary (depth
  ``RELAX_DEPTH * w``, ``RELAX_PAUSE_DEPTH * w`` where the words are separated by a pause);
- utterance: a speaking style drawn per sentence, energy ``e`` and expressivity ``x``, scales the
  mouth (jaw, rounding, spreading) by ``1 + u (e - 1)`` and the speech-related brow motion by ``1 + u (x - 1)``; the brows
  move during the final word: up for questions, down for statements (``FINAL_BROW * u``).

The style is always drawn and always audible (espeak volume ``100 e``, pitch range scaled by
``x``), whatever the knobs, so corpora that differ only in knobs share their audio.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..common.errors import UserError

PRESETS = {"phone": (0.0, 0.0), "word": (1.0, 0.0), "full": (1.0, 1.0)}  # (word, utterance)
DEFAULT_PRESET = "full"
STRESS_GAIN = 0.4  # extra jaw opening and lip spread on primary-stressed vowels, at w = 1
ACCENT_BROW = 0.6  # brow raise (brow-field units, 1 = 4 mm at the brow centre) per content word
ACCENT_SIGMA_S = 0.09
RELAX_DEPTH, RELAX_PAUSE_DEPTH, RELAX_SIGMA_S = 0.3, 0.6, 0.03
PAUSE_S = 0.02  # a gap this long between two words counts as a pause
FINAL_BROW = {"question": 0.8, "statement": -0.4}
ENERGY_RANGE = (0.7, 1.3)
EXPRESSIVITY_RANGE = (0.5, 1.6)

FUNCTION_WORDS = frozenset(
    "a an the and or but if of to in on at by for from with over under into after before above across "
    "along behind when while as than that this these those it its he she we you i me my our your his her "
    "their they them him us is are was were be been am do does did will shall can may might must would "
    "should could has have had not no so some up out off".split()
)


@dataclass(frozen=True)
class Knobs:
    """Strengths in [0, 1] of the word and utterance effects, and the preset they came from."""

    word: float
    utterance: float
    preset: str


def resolve_knobs(hierarchy: str | None = None, word: float | None = None, utterance: float | None = None) -> Knobs:
    """The preset's strengths, each overridden by an explicit value; UserError outside [0, 1]."""
    name = hierarchy or DEFAULT_PRESET
    if name not in PRESETS:
        raise UserError(f"unknown --hierarchy '{name}' (choose {', '.join(PRESETS)})")
    w, u = PRESETS[name]
    for label, value in (("--word-effects", word), ("--utterance-effects", utterance)):
        if value is not None and not (0.0 <= float(value) <= 1.0 and np.isfinite(value)):
            raise UserError(f"{label} must be between 0 and 1, got {value}")
    w = w if word is None else float(word)
    u = u if utterance is None else float(utterance)
    preset = name if (w, u) == PRESETS[name] else next((k for k, v in PRESETS.items() if v == (w, u)), "custom")
    return Knobs(word=w, utterance=u, preset=preset)


@dataclass(frozen=True)
class Style:
    """Per-sentence speaking style: energy and expressivity (1 = average), question or statement."""

    energy: float
    expressivity: float
    question: bool


def draw_style(rng: np.random.Generator, text: str) -> Style:
    """Energy log-uniform in ENERGY_RANGE, expressivity uniform in EXPRESSIVITY_RANGE."""
    energy = float(np.exp(rng.uniform(*np.log(ENERGY_RANGE))))
    expressivity = float(rng.uniform(*EXPRESSIVITY_RANGE))
    return Style(round(energy, 4), round(expressivity, 4), text.rstrip().endswith("?"))


def _word_plan(utterance, knobs: Knobs) -> list[dict]:
    """Per word: label, times, content word, its primary-stressed phone, brow accent, boundary relaxation."""
    words = []
    for i, (start, end, label) in enumerate(utterance.words):
        inside = [k for k, (s, e, _) in enumerate(utterance.phones) if start - 1e-9 <= s and e <= end + 1e-9]
        stressed = [k for k in inside if utterance.stressed[k]]
        content = label not in FUNCTION_WORDS
        if stressed:
            s, e, _ = utterance.phones[stressed[0]]
            centre = 0.5 * (s + e)
        else:
            centre = 0.5 * (start + end)
        relax = 0.0
        if i + 1 < len(utterance.words):
            pause = utterance.words[i + 1][0] - end >= PAUSE_S
            relax = (RELAX_PAUSE_DEPTH if pause else RELAX_DEPTH) * knobs.word
        words.append({"word": label, "start": round(start, 6), "end": round(end, 6), "content": content,
                      "stressed": bool(stressed), "stress_phone": stressed[0] if stressed else None,
                      "stress_vowel": utterance.phones[stressed[0]][2] if stressed else None,
                      "accent_time": round(centre, 6), "brow_accent": ACCENT_BROW * knobs.word if content else 0.0,
                      "boundary_relax": relax})
    return words


def plan_effects(utterance, style: Style, knobs: Knobs) -> dict:
    """The truth of one sequence: knobs, style, per-word effects and the resulting scales."""
    final_kind = "question" if style.question else "statement"
    return {
        "style": asdict(style),
        "mouth_scale": 1.0 + knobs.utterance * (style.energy - 1.0),
        "brow_scale": 1.0 + knobs.utterance * (style.expressivity - 1.0),
        "stress_gain": 1.0 + STRESS_GAIN * knobs.word,
        "final_brow": FINAL_BROW[final_kind] * knobs.utterance,
        "words": _word_plan(utterance, knobs),
    }


def level_curves(plan: dict, times: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """At ``times`` (N,) seconds: jaw/spread gain of stressed vowels, gain of the opening gestures (N,),
    added brow (N,).

    Brow units are those of the brow field; the utterance's brow scale is not applied here."""
    mouth = np.ones_like(times)
    brow = np.zeros_like(times)
    words = plan["words"]
    for i, word in enumerate(words):
        if word["brow_accent"]:
            brow += word["brow_accent"] * np.exp(-0.5 * ((times - word["accent_time"]) / ACCENT_SIGMA_S) ** 2)
        if word["boundary_relax"]:
            centre = 0.5 * (word["end"] + words[i + 1]["start"])
            mouth *= 1.0 - word["boundary_relax"] * np.exp(-0.5 * ((times - centre) / RELAX_SIGMA_S) ** 2)
    if words and plan["final_brow"]:
        start, end = words[-1]["start"], words[-1]["end"]
        ramp = np.clip((times - start) / max(end - start, 1e-3), 0.0, 1.0)
        brow += plan["final_brow"] * ramp * ramp * (3 - 2 * ramp)  # smoothstep, held after the word
    return plan["stress_gain"], mouth * plan["mouth_scale"], brow


def knobs_record(knobs: Knobs) -> dict:
    """What synth_info.json says about the level effects (knobs and constants)."""
    return {"hierarchy": knobs.preset, "word_effects": knobs.word, "utterance_effects": knobs.utterance,
            "constants": {"stress_gain": STRESS_GAIN, "accent_brow": ACCENT_BROW, "accent_sigma_s": ACCENT_SIGMA_S,
                          "relax_depth": RELAX_DEPTH, "relax_pause_depth": RELAX_PAUSE_DEPTH,
                          "relax_sigma_s": RELAX_SIGMA_S, "pause_s": PAUSE_S, "final_brow": FINAL_BROW,
                          "energy_range": list(ENERGY_RANGE), "expressivity_range": list(EXPRESSIVITY_RANGE)},
            "truth_file": "synth_truth.json"}
