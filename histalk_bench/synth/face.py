"""A small procedural face and its speech-driven animation (all lengths in metres).

The face is the front half of an ellipsoid sampled on a (longitude, latitude) grid, with a
nose bump and a mouth slit (no triangles between the lip rows inside the mouth).  Motion is a
sum of fixed displacement fields (jaw opening, lip closure, rounding, spreading, brow raise,
blink) driven by per-phone viseme targets smoothed over time (coarticulation), so the lips
are a learnable function of the phones heard in the audio; word- and utterance-level effects
(``levels.py``) modulate these activations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_LON, N_LAT = 44, 36  # grid size: 1,584 vertices
LAT_RANGE = (-1.05, 1.15)  # radians, chin .. forehead
LON_RANGE = (-1.45, 1.45)
MOUTH_ROW_LAT = -0.45  # latitude of the mouth line
MOUTH_HALF_WIDTH = 0.42  # radians of longitude


@dataclass
class FaceRig:
    """A subject's neutral mesh and its motion fields.

    template: (V, 3) float32; faces: (F, 3) int32; fields: name -> (V, 3) displacement per unit
    activation; lip_ids / upper_face_ids / landmark_ids: vertex ids.
    """

    template: np.ndarray
    faces: np.ndarray
    fields: dict[str, np.ndarray]
    lip_ids: np.ndarray
    upper_face_ids: np.ndarray
    landmark_ids: np.ndarray


def _grid():
    lon = np.linspace(*LON_RANGE, N_LON)
    lat = np.linspace(*LAT_RANGE, N_LAT)
    mouth_row = int(np.argmin(np.abs(lat - MOUTH_ROW_LAT)))
    lat[mouth_row] = MOUTH_ROW_LAT - 0.02  # lower lip row
    lat[mouth_row + 1] = MOUTH_ROW_LAT + 0.02  # upper lip row
    return np.meshgrid(lon, lat), mouth_row


def _faces(mouth_row: int, lon: np.ndarray) -> np.ndarray:
    faces = []
    for r in range(N_LAT - 1):
        for c in range(N_LON - 1):
            if r == mouth_row and abs(0.5 * (lon[r, c] + lon[r, c + 1])) < MOUTH_HALF_WIDTH:
                continue  # the mouth opening
            a, b = r * N_LON + c, r * N_LON + c + 1
            d, e = (r + 1) * N_LON + c, (r + 1) * N_LON + c + 1
            faces += [(a, b, e), (a, e, d)]
    return np.asarray(faces, dtype=np.int32)


def build_face(shape_seed: int) -> FaceRig:
    """The neutral face of one subject; ``shape_seed`` varies proportions by a few percent."""
    rng = np.random.default_rng(shape_seed)
    (lon, lat), mouth_row = _grid()
    width, height, depth = 0.075 * rng.uniform(0.92, 1.08), 0.105 * rng.uniform(0.93, 1.07), 0.09 * rng.uniform(0.94, 1.06)
    x = width * np.sin(lon) * np.cos(lat)
    y = height * np.sin(lat)
    z = depth * np.cos(lon) * np.cos(lat)
    nose = 0.022 * rng.uniform(0.85, 1.15) * np.exp(-((lon / 0.18) ** 2 + ((lat + 0.05) / 0.28) ** 2))
    z = z + nose
    lips = 0.006 * np.exp(-((lon / 0.45) ** 2 + ((lat - MOUTH_ROW_LAT) / 0.09) ** 2))
    z = z + lips
    template = np.stack([x, y, z], axis=-1).reshape(-1, 3).astype(np.float32)
    flat_lon, flat_lat = lon.reshape(-1), lat.reshape(-1)

    def bump(lon0, lat0, s_lon, s_lat):
        return np.exp(-(((flat_lon - lon0) / s_lon) ** 2 + ((flat_lat - lat0) / s_lat) ** 2))

    below = np.clip((MOUTH_ROW_LAT - flat_lat) / 0.6, 0, 1) ** 0.7 * (flat_lat < MOUTH_ROW_LAT)
    jaw_weight = below * np.exp(-((flat_lon / 0.9) ** 2))
    lower_lip = bump(0, MOUTH_ROW_LAT - 0.04, MOUTH_HALF_WIDTH * 1.1, 0.08) * (flat_lat < MOUTH_ROW_LAT)
    upper_lip = bump(0, MOUTH_ROW_LAT + 0.04, MOUTH_HALF_WIDTH * 1.1, 0.08) * (flat_lat > MOUTH_ROW_LAT)
    mouth = bump(0, MOUTH_ROW_LAT, MOUTH_HALF_WIDTH * 1.2, 0.14)
    zeros = np.zeros_like(flat_lon)
    fields = {
        # jaw opening: the chin rotates down and slightly back (up to ~9 mm)
        "jaw": np.stack([zeros, -0.009 * (jaw_weight + 0.3 * lower_lip), -0.003 * jaw_weight], -1),
        # lip closure: lips press together and protrude a little
        "closure": np.stack([zeros, 0.002 * lower_lip - 0.0025 * upper_lip, 0.0015 * (lower_lip + upper_lip)], -1),
        # rounding: mouth narrows towards the centre line and pushes forward
        "round": np.stack([-0.35 * np.sin(flat_lon) * 0.03 * mouth, zeros, 0.005 * mouth], -1),
        # spreading: corners move outwards and slightly up
        "spread": np.stack([0.006 * np.sign(flat_lon) * bump(0, MOUTH_ROW_LAT, 0.5, 0.12) * np.abs(np.sin(flat_lon / MOUTH_HALF_WIDTH * 1.5)),
                            0.001 * mouth, zeros], -1),
        # brow raise (upper face): the brows and, less, the whole forehead skin (frontalis)
        "brow": np.stack([zeros, 0.004 * (bump(0.35, 0.62, 0.3, 0.14) + bump(-0.35, 0.62, 0.3, 0.14) + 0.7 * bump(0, 0.85, 0.9, 0.3)), zeros], -1),
        # blink: upper eyelids move down
        "blink": np.stack([zeros, -0.005 * (bump(0.33, 0.38, 0.16, 0.06) + bump(-0.33, 0.38, 0.16, 0.06)), -0.001 * (bump(0.33, 0.38, 0.16, 0.06) + bump(-0.33, 0.38, 0.16, 0.06))], -1),
    }
    fields = {name: f.astype(np.float32) for name, f in fields.items()}
    lip_ids = np.flatnonzero((np.abs(flat_lat - MOUTH_ROW_LAT) < 0.16) & (np.abs(flat_lon) < MOUTH_HALF_WIDTH + 0.12))
    upper_face_ids = np.flatnonzero(flat_lat > 0.2)
    landmark_ids = _landmarks(flat_lon, flat_lat)
    return FaceRig(template, _faces(mouth_row, lon), fields, lip_ids, upper_face_ids, landmark_ids)


def _landmarks(flat_lon: np.ndarray, flat_lat: np.ndarray) -> np.ndarray:
    """~40 sparse landmarks: lips, jaw line, nose, eyes, brows (nearest grid vertices)."""
    points = []
    for lon in np.linspace(-MOUTH_HALF_WIDTH, MOUTH_HALF_WIDTH, 7):
        points += [(lon, MOUTH_ROW_LAT + 0.02), (lon, MOUTH_ROW_LAT - 0.02)]
    points += [(lon, MOUTH_ROW_LAT + 0.12) for lon in (-0.25, 0.0, 0.25)]
    points += [(lon, MOUTH_ROW_LAT - 0.14) for lon in (-0.25, 0.0, 0.25)]
    points += [(lon, -0.95) for lon in np.linspace(-0.8, 0.8, 7)]  # jaw line
    points += [(0.0, -0.05), (0.0, 0.15), (-0.15, -0.15), (0.15, -0.15)]  # nose
    points += [(s * lon, 0.38) for s in (-1, 1) for lon in (0.22, 0.33, 0.44)]  # eyes
    points += [(s * lon, 0.62) for s in (-1, 1) for lon in (0.15, 0.35, 0.55)]  # brows
    ids = [int(np.argmin((flat_lon - lo) ** 2 + (flat_lat - la) ** 2)) for lo, la in points]
    return np.asarray(sorted(set(ids)), dtype=np.int64)


# --------------------------------------------------------------------------------------------
# viseme targets per espeak phoneme: (jaw, closure, round, spread)

_BILABIAL = {"p", "b", "m"}
_LABIODENTAL = {"f", "v"}
_ROUNDED = {"u:", "U", "o", "O", "O:", "oU", "w", "aU", "OI", "u", "o:", "0", "O2", "o@", "O@", "U@", "oU#", "aU@"}
_OPEN = {"a", "a:", "A", "A:", "aI", "V", "a#", "&", "aa", "A@", "e@", "aI@", "aI3"}
_FRONT_CLOSE = {"i", "i:", "I", "j", "eI", "i@", "I2", "I#", "i@3"}
_MID = {"e", "E", "@", "3", "3:", "@2", "@5", "@L", "E2", "e:"}


def viseme_target(phone: str) -> tuple[float, float, float, float]:
    """(jaw opening, lip closure, rounding, spreading) in [0, 1] for an espeak phoneme label.

    Variant labels (``r-``, ``t2``, ``t#``) fall back to their base phoneme."""
    base = phone.rstrip("#-23;/")
    if base and base != phone:
        return viseme_target(base)
    if phone in _BILABIAL:
        return (0.05, 1.0, 0.0, 0.0)
    if phone in _LABIODENTAL:
        return (0.12, 0.55, 0.0, 0.1)
    if phone in _OPEN:
        return (1.0, 0.0, 0.0, 0.15)
    if phone in _ROUNDED:
        return (0.4, 0.0, 0.95, 0.0)
    if phone in _FRONT_CLOSE:
        return (0.22, 0.0, 0.0, 0.9)
    if phone in _MID:
        return (0.5, 0.0, 0.0, 0.35)
    if phone in {"S", "Z", "tS", "dZ", "r"}:
        return (0.2, 0.0, 0.5, 0.0)
    return (0.25, 0.0, 0.0, 0.1)  # other consonants


def _smooth(signal: np.ndarray, rate: float, sigma_s: float) -> np.ndarray:
    radius = int(4 * sigma_s * rate)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / (sigma_s * rate)) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(signal, ((radius, radius), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(signal.shape[1])], axis=1)


BROW_COACT = 0.4  # phone-level brow co-activation per unit of (slowly smoothed) jaw target


def activations(phones, stressed, duration_s: float, fps: float, *, amplitude: float, brow_gain: float,
                blink_times: np.ndarray, levels=None) -> dict[str, np.ndarray]:
    """Per-frame activations (T,) of every motion field, T = round(duration_s * fps).

    Targets are held over each phone on a 1 kHz grid, smoothed with a 25 ms Gaussian
    (coarticulation), then sampled at the frame times ``k / fps``.  ``levels(times)`` (see
    ``levels.level_curves``) returns the jaw/spread gain of the ``stressed`` phones (one bool per
    phone; 1 without ``levels``), a gain curve of the opening
    gestures (jaw, rounding, spreading; not the lip closure) and an added brow curve;
    ``brow_gain`` scales all speech-related brow motion (not the blinks).
    """
    rate = 1000.0
    n_fine = int(np.ceil(duration_s * rate)) + 1
    fine_times = np.arange(n_fine) / rate
    stress_gain, mouth_gain, brow_extra = levels(fine_times) if levels else (1.0, 1.0, 0.0)
    phone_gain = np.where(np.asarray(stressed, bool), stress_gain, 1.0)
    targets = np.zeros((n_fine, 4))
    gains = np.ones((n_fine, 4))
    for (start, end, label), gain in zip(phones, phone_gain):
        a, b = int(start * rate), max(int(start * rate) + 1, int(end * rate))
        targets[a:b] = viseme_target(label)
        gains[a:b, [0, 3]] = gain  # jaw and spread
    brow = BROW_COACT * _smooth(targets[:, :1], rate, 0.12)[:, 0]
    targets = _smooth(targets * gains, rate, 0.025) * amplitude
    targets[:, [0, 2, 3]] *= np.reshape(mouth_gain, (-1, 1))  # a lip closure is complete whatever the style
    brow = (brow + brow_extra) * brow_gain
    n_frames = int(round(duration_s * fps))
    index = np.clip(np.round(np.arange(n_frames) / fps * rate).astype(int), 0, n_fine - 1)
    frame_times = np.arange(n_frames) / fps
    blink = np.zeros(n_frames)
    for t0 in blink_times:
        blink = np.maximum(blink, np.clip(1 - np.abs(frame_times - t0) / 0.08, 0, 1))
    jaw, closure, rounding, spread = (targets[index, k] for k in range(4))
    return {"jaw": jaw, "closure": closure, "round": rounding, "spread": spread, "brow": brow[index], "blink": blink}


def animate(rig: FaceRig, acts: dict[str, np.ndarray]) -> np.ndarray:
    """Vertices (T, V, 3) float32 = template + sum of activation * field."""
    motion = sum(acts[name][:, None, None] * rig.fields[name][None] for name in rig.fields)
    return (rig.template[None] + motion).astype(np.float32)
