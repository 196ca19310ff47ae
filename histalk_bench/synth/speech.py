"""Speech with exact phone and word times from espeak-ng (the ``espeakng-loader`` wheel).

Only the C API's synthesis callback reports WORD and PHONEME events with sample positions, so
the library is driven through ctypes in synchronous mode with phoneme events enabled.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import espeakng_loader
import numpy as np

_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4
_SILENCES = {"_", "_:", "_!", "_|", "||", ""}


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """``espeak_EVENT`` of speak_lib.h (espeak-ng 1.52)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Voice:
    """A synthetic speaker: espeak voice name, rate (words/min), pitch and pitch range (0-100), volume (0-200)."""

    name: str = "en-us"
    rate: int = 165
    pitch: int = 50
    pitch_range: int = 50
    volume: int = 100


@dataclass
class Utterance:
    """audio: (N,) float32 in [-1, 1] at ``sample_rate``; phones/words: (start s, end s, label)."""

    audio: np.ndarray
    sample_rate: int
    phones: list[tuple[float, float, str]]
    words: list[tuple[float, float, str]]
    stressed: list[bool]  # per phone: carries primary stress


class _Espeak:
    """The process-wide espeak-ng library (it keeps global state, so calls are serialised)."""

    _lock = threading.Lock()
    _instance: "_Espeak | None" = None

    def __init__(self):
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.sample_rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), _INITIALIZE_PHONEME_EVENTS
        )
        if self.sample_rate <= 0:
            raise RuntimeError("espeak-ng failed to initialise (espeakng-loader data not found)")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, str]] = []
        self._callback = _CALLBACK(self._on_synth)
        self.lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def get(cls) -> "_Espeak":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def _on_synth(self, wav, n_samples, events):
        if n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            label = event.id.string.split(b"\0")[0].decode("ascii", "replace") if event.type == _EVENT_PHONEME else ""
            self._events.append((event.type, event.sample, event.text_position, event.length, label))
            index += 1
        return 0

    def synthesise(self, text: str, voice: Voice, seed: int = 0) -> tuple[np.ndarray, list]:
        with self._lock:
            self._chunks, self._events = [], []
            self.lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))  # espeak's noise source: reproducible output
            self.lib.espeak_SetVoiceByName(voice.name.encode())
            self.lib.espeak_SetParameter(_PARAM_RATE, int(voice.rate), 0)
            self.lib.espeak_SetParameter(_PARAM_PITCH, int(voice.pitch), 0)
            self.lib.espeak_SetParameter(_PARAM_RANGE, int(voice.pitch_range), 0)
            self.lib.espeak_SetParameter(_PARAM_VOLUME, int(voice.volume), 0)
            encoded = text.encode("utf-8")
            self.lib.espeak_Synth(encoded, len(encoded) + 1, 0, 1, 0, 0, None, None)
            self.lib.espeak_Synchronize()
            audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            return audio, list(self._events)


def synthesise(text: str, voice: Voice = Voice(), seed: int = 0) -> Utterance:
    """Speak ``text`` (deterministic for a ``seed``); phone boundaries are consecutive PHONEME
    event samples, words span their phones."""
    engine = _Espeak.get()
    samples, events = engine.synthesise(text, voice, seed)
    rate = engine.sample_rate
    n_samples = len(samples)
    phone_events = [(sample, label) for kind, sample, _, _, label in events if kind == _EVENT_PHONEME]
    word_events = [(sample, pos, length) for kind, sample, pos, length, _ in events if kind == _EVENT_WORD]

    phones, stressed, phone_samples = [], [], []
    for i, (sample, label) in enumerate(phone_events):
        end = phone_events[i + 1][0] if i + 1 < len(phone_events) else n_samples
        if label in _SILENCES or end <= sample:
            continue
        clean = label.replace("'", "").replace(",", "")
        phones.append((sample / rate, end / rate, clean))
        stressed.append("'" in label)
        phone_samples.append((sample, end))

    words = []
    for i, (sample, position, length) in enumerate(word_events):
        next_start = word_events[i + 1][0] if i + 1 < len(word_events) else n_samples + 1
        inside = [(s, e) for s, e in phone_samples if sample <= s < next_start]
        if not inside:
            continue
        label = text[position - 1 : position - 1 + length].strip(".,;:!?\"'").lower()
        words.append((inside[0][0] / rate, inside[-1][1] / rate, label))
    audio = (samples.astype(np.float32) / 32768.0).astype(np.float32)
    return Utterance(audio=audio, sample_rate=rate, phones=phones, words=words, stressed=stressed)


def synthesise_many(jobs: list[tuple[str, Voice]]) -> list[Utterance]:
    """Synthesise (text, voice) jobs in a fresh Python process (``python -m histalk_bench.synth.speech_worker``).

    libespeak-ng keeps global synthesis state (pitch flutter, timing) that no API call resets, so
    output depends on everything spoken before in the process; a new process per corpus makes
    the corpus byte-identical for the same arguments.  A plain subprocess (not multiprocessing)
    works from any caller: unguarded scripts, stdin, notebooks.
    """
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="histalk-synth-") as folder:
        folder = Path(folder)
        payload = [{"text": text, "voice": voice.__dict__} for text, voice in jobs]
        (folder / "jobs.json").write_text(json.dumps(payload))
        done = subprocess.run([sys.executable, "-m", "histalk_bench.synth.speech_worker", str(folder)],
                              capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"espeak-ng worker failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
        labels = json.loads((folder / "labels.json").read_text())
        with np.load(folder / "audio.npz", allow_pickle=False) as audio:
            return [Utterance(audio=audio[f"a{i}"], sample_rate=item["sample_rate"],
                              phones=[tuple(p) for p in item["phones"]], words=[tuple(w) for w in item["words"]],
                              stressed=item["stressed"]) for i, item in enumerate(labels)]


def run_jobs(folder) -> None:
    """Worker side of :func:`synthesise_many`: ``folder/jobs.json`` -> ``audio.npz`` + ``labels.json``."""
    folder = Path(folder)
    jobs = json.loads((folder / "jobs.json").read_text())
    utterances = [synthesise(job["text"], Voice(**job["voice"]), seed=i) for i, job in enumerate(jobs)]
    np.savez(folder / "audio.npz", **{f"a{i}": u.audio for i, u in enumerate(utterances)})
    labels = [{"sample_rate": u.sample_rate, "phones": u.phones, "words": u.words, "stressed": u.stressed}
              for u in utterances]
    (folder / "labels.json").write_text(json.dumps(labels))
