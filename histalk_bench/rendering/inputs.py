"""What a video shows, read from files: a cached sequence with its predictions, or predictions
of new audio (``predict --audio`` / ``animate``: a predictions .h5 or a (T, V*3) .npy) with the
audio and, for surfaces, the triangles of a cache or a mesh file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cache import Cache
from ..common.audio import read_audio_16k
from ..common.constants import SAMPLE_RATE
from ..common.errors import UserError
from ..predict.sources import checked_vertices, load_npy_vertices
from ..predict.store import PredictionReader


@dataclass
class Panel:
    label: str
    vertices: np.ndarray  # (T, V, 3)


@dataclass
class Loaded:
    panels: list[Panel]
    faces: np.ndarray | None
    audio: np.ndarray | None  # (N,) float32 at 16 kHz, or None for a silent video
    fps: float
    dataset: str
    notes: list[str]  # where faces/audio came from, shown by the CLI


def parse_sequence(text: str) -> tuple[str, str]:
    """'SUBJECT/SENTENCE' -> (subject, sentence)."""
    subject, slash, sentence = text.strip().strip("/").partition("/")
    if not slash or not subject or not sentence or "/" in sentence:
        raise UserError(f"--sequence must be SUBJECT/SENTENCE, got '{text}'")
    return subject, sentence


def _chosen_conditions(conditions: list, condition: str | None, where: str, path) -> list:
    """None (first stored), 'all', or one name -> the stored conditions to show."""
    if conditions == [None]:
        return [None]
    if condition is None:
        return conditions[:1]
    if condition == "all":
        return conditions
    if condition in conditions:
        return [condition]
    raise UserError(f"no condition '{condition}' for '{where}' (available: {', '.join(conditions)}, all)", path)


def prediction_panels(path: Path, subject: str | None, sentence: str | None, condition: str | None,
                      n_vertices: int | None) -> tuple[list[Panel], dict]:
    """Panels of one predictions .h5 (one per chosen condition) and the file's attributes.
    subject/sentence None: the file must hold exactly one sequence."""
    if not path.exists():
        raise UserError("predictions not found", path)
    with PredictionReader(path) as reader:
        if subject is None:
            keys = reader.keys()
            if len(keys) != 1:
                raise UserError(f"holds {len(keys)} sequences; give --sequence SUBJECT/SENTENCE and --data", path)
            subject, sentence = keys[0]
        if not reader.has(subject, sentence):
            raise UserError(f"no prediction for '{subject}/{sentence}'", path)
        attrs = reader.attrs
        label = str(attrs.get("model") or path.stem)
        panels = []
        for chosen in _chosen_conditions(reader.conditions(subject, sentence), condition, f"{subject}/{sentence}", path):
            vertices = reader.vertices(subject, sentence, chosen)
            panels.append(Panel(label if chosen is None else f"{label} [{chosen}]", vertices))
    for panel in panels:
        expected = n_vertices or panel.vertices.shape[1]
        if panel.vertices.ndim != 3 or panel.vertices.shape[1:] != (expected, 3):
            raise UserError(f"predicted vertices have shape {panel.vertices.shape}, expected (T, {expected}, 3)", path)
    return panels, attrs


def npy_panel(path: Path) -> Panel:
    """A (T, V*3) or (T, V, 3) .npy as written by ``predict --audio --out X.npy``."""
    if not path.exists():
        raise UserError("predictions not found", path)
    array = load_npy_vertices(path)
    if array.ndim != 3:
        raise UserError(f"expected (T, V*3) or (T, V, 3) vertices, got shape {array.shape}", path)
    return Panel(path.stem, checked_vertices(array, array.shape[1], str(path)).astype(np.float32))


def unique_labels(panels: list[Panel], paths: list[Path]) -> None:
    """Append the file name to labels that occur more than once (in place)."""
    labels = [p.label for p in panels]
    for panel, path in zip(panels, paths):
        if labels.count(panel.label) > 1:
            panel.label = f"{panel.label} ({path.stem})"


def cut_to_shortest(panels: list[Panel], audio: np.ndarray | None, fps: float, where) -> np.ndarray | None:
    """Cut every panel to the shortest; audio cut or zero-padded to the video length (16 kHz)."""
    n_frames = min(p.vertices.shape[0] for p in panels)
    if n_frames == 0:
        raise UserError("nothing to render: no frames", where)
    for panel in panels:
        panel.vertices = panel.vertices[:n_frames]
    if audio is None:
        return None
    n_samples = round(n_frames / fps * SAMPLE_RATE)
    return np.pad(audio[:n_samples], (0, max(0, n_samples - len(audio))))


def check_faces(faces: np.ndarray | None, n_vertices: int, where) -> np.ndarray | None:
    if faces is not None and (faces.ndim != 2 or faces.shape[1] != 3 or faces.max(initial=0) >= n_vertices):
        raise UserError(f"faces have shape {faces.shape} or ids outside the {n_vertices} vertices", where)
    return faces


def load_sequence(data, preds: list[Path], sequence: str, condition: str | None) -> Loaded:
    """Ground truth, faces, audio and predictions of one cached sequence, cut to the shortest."""
    subject, sentence = parse_sequence(sequence)
    with Cache(data) as cache:
        if not cache.has_sequence(subject, sentence):
            raise UserError(f"no sequence '{subject}/{sentence}'", cache.path)
        gt = cache.vertices(subject, sentence)
        audio = cache.audio(subject, sentence)
        faces = check_faces(cache.faces, gt.shape[1], data)
        fps, dataset = cache.fps, cache.dataset
    predicted = []
    for path in preds:
        if path.suffix == ".npy":
            raise UserError("a .npy prediction has no sequence name; render it without --sequence "
                            "(predictions of new audio), or predict the split into an .h5", path)
        panels, _ = prediction_panels(path, subject, sentence, condition, gt.shape[1])
        predicted.extend((panel, path) for panel in panels)
    unique_labels([p for p, _ in predicted], [path for _, path in predicted])
    panels = [Panel("ground truth", gt), *(p for p, _ in predicted)]
    audio = cut_to_shortest(panels, audio, fps, data)
    return Loaded(panels, faces, audio, fps, dataset, [])


def mesh_faces(spec: str | None, data: str | None) -> tuple[np.ndarray | None, str]:
    """Triangles from a mesh file (.ply/.obj) or a cache (.h5), and where they came from."""
    if spec:
        path = Path(spec)
        if not path.exists():
            raise UserError("mesh file not found", path)
        import trimesh  # noqa: PLC0415 (lazy: trimesh ~0.24 s, only for a mesh file)

        try:
            mesh = trimesh.load(str(path), process=False, force="mesh")
        except Exception as exc:  # trimesh raises many types for broken files
            raise UserError(f"unreadable mesh ({exc.__class__.__name__})", path) from None
        return np.asarray(mesh.faces, dtype=np.int64), f"faces from {path.name}"
    if data:
        with Cache(data) as cache:
            faces = cache.faces
        return faces, (f"faces from {Path(data).name}" if faces is not None else f"{Path(data).name} has no faces")
    return None, "no faces given (--faces MESH or --data CACHE): point cloud"


def load_new_audio(preds: list[Path], *, audio: str | None, faces_spec: str | None, data: str | None,
                   condition: str | None, fps: float | None) -> Loaded:
    """Predictions of new audio (no ground truth): every panel from ``preds``; the audio from
    ``audio`` or the path the .h5 recorded; triangles from ``faces_spec`` or ``data``."""
    panels, notes, rates, recorded = [], [], [], None
    if condition is not None and all(path.suffix == ".npy" for path in preds):
        raise UserError("--condition selects a speaker inside predictions .h5; a .npy holds one sequence, drop it")
    for path in preds:
        if path.suffix == ".npy":
            panels.append(npy_panel(path))
            continue
        found, attrs = prediction_panels(path, None, None, condition, None)
        panels.extend(found)
        rates.append(float(attrs.get("fps", 30.0)))
        recorded = recorded or (attrs.get("meta") or {}).get("audio")
    unique_labels(panels, preds if len(panels) == len(preds) else [Path(p.label) for p in panels])
    if len({p.vertices.shape[1] for p in panels}) > 1:
        raise UserError("predictions have different vertex counts: " + ", ".join(str(p.vertices.shape[1]) for p in panels))
    if fps is None:
        fps = rates[0] if rates else 30.0
        notes.append(f"{fps:g} fps ({'from the predictions file' if rates else 'default; --fps to change'})")
    faces, where = mesh_faces(faces_spec, data)
    notes.append(where)
    faces = check_faces(faces, panels[0].vertices.shape[1], faces_spec or data)
    sound = None
    source = audio or (recorded if recorded and Path(recorded).exists() else None)
    if source:
        sound = read_audio_16k(source)
        notes.append(f"audio from {source}")
    else:
        notes.append("no audio (--audio WAV to add it)" + (f"; recorded audio {recorded} not found" if recorded else ""))
    sound = cut_to_shortest(panels, sound, fps, preds[0])
    return Loaded(panels, faces, sound, float(fps), "audio", notes)
