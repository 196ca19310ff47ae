"""mp4 writing through the ffmpeg that imageio-ffmpeg ships: raw RGB frames on a pipe, the
audio from a temporary wav, H.264 + AAC, written to a temporary name and renamed."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import soundfile

from ..common.atomic import commit_file
from ..common.constants import SAMPLE_RATE
from ..common.errors import UserError


def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg binary."""
    return imageio_ffmpeg.get_ffmpeg_exe()


class VideoWriter:
    """Stream (H, W, 3) uint8 frames into ``path``; ``close()`` muxes the audio and publishes.

    audio: (N,) float32 mono at ``sample_rate`` or None; fps: frames per second."""

    def __init__(self, path: str | os.PathLike, *, width: int, height: int, fps: float,
                 audio: np.ndarray | None = None, sample_rate: int = SAMPLE_RATE, crf: int = 20):
        if width % 2 or height % 2:
            raise ValueError(f"frame size must be even for yuv420p, got {width}x{height}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.width, self.height = int(width), int(height)
        self._tempdir = tempfile.TemporaryDirectory(prefix="histalk-render-")
        self._partial = self.path.with_name(self.path.name + ".partial.mp4")
        command = [ffmpeg_exe(), "-y", "-loglevel", "error",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{self.width}x{self.height}",
                   "-r", f"{float(fps):g}", "-i", "-"]
        if audio is not None and len(audio):
            wav = Path(self._tempdir.name) / "audio.wav"
            soundfile.write(wav, np.asarray(audio, dtype=np.float32).reshape(-1), int(sample_rate), subtype="FLOAT")
            command += ["-i", str(wav), "-c:a", "aac", "-b:a", "128k", "-shortest"]
        command += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
                    "-movflags", "+faststart", str(self._partial)]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame must be ({self.height}, {self.width}, 3) uint8, got {frame.shape} {frame.dtype}")
        try:
            self._process.stdin.write(np.ascontiguousarray(frame).tobytes())
        except BrokenPipeError:
            self._fail()
        self.frames += 1

    def _fail(self) -> None:
        error = self._process.stderr.read().decode(errors="replace").strip()
        self._process.wait()
        self._partial.unlink(missing_ok=True)
        self._tempdir.cleanup()
        raise UserError(f"ffmpeg failed: {error.splitlines()[-1] if error else 'no message'}", self.path)

    def close(self) -> Path:
        self._process.stdin.close()
        if self._process.wait() != 0:
            self._fail()
        self._process.stderr.close()
        self._tempdir.cleanup()
        commit_file(self._partial, self.path)
        return self.path

    def abort(self) -> None:
        """Stop ffmpeg and remove the partial file (after an exception)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._partial.unlink(missing_ok=True)
        self._tempdir.cleanup()


def probe_streams(path: str | os.PathLike) -> dict:
    """What ``ffmpeg -i`` reports: {'video': [codec lines], 'audio': [...], 'duration_s': float|None,
    'fps': float|None, 'size': (w, h)|None}."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    text = result.stderr
    info = {"video": [], "audio": [], "duration_s": None, "fps": None, "size": None}
    for line in text.splitlines():
        match = re.search(r"Stream #\S+.*?: (Video|Audio): (.*)", line)
        if match:
            info[match.group(1).lower()].append(match.group(2).strip())
    duration = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
    if duration:
        h, m, s = duration.groups()
        info["duration_s"] = int(h) * 3600 + int(m) * 60 + float(s)
    if info["video"]:
        fps = re.search(r"([\d.]+) fps", info["video"][0])
        size = re.search(r", (\d{2,5})x(\d{2,5})", info["video"][0])
        info["fps"] = float(fps.group(1)) if fps else None
        info["size"] = (int(size.group(1)), int(size.group(2))) if size else None
    return info


def extract_frames(path: str | os.PathLike, out_dir: str | os.PathLike, times_s: list[float]) -> list[Path]:
    """Write the frames at ``times_s`` seconds as PNG files (for checking a video by eye)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index, time_s in enumerate(times_s):
        target = out_dir / f"frame_{index:02d}_{time_s:.2f}s.png"
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-ss", f"{time_s:.3f}", "-i", str(path),
                        "-frames:v", "1", str(target)], check=True, capture_output=True)
        written.append(target)
    return written
