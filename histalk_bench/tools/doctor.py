"""``histalk-bench doctor``: what this machine has and lacks, with the fix for each gap.

:func:`run_checks` returns one :class:`Check` per component; nothing here uses the network.
Statuses: ``OK`` (works), ``WARN`` (works partly or a fallback will be used), ``MISSING``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

OK, WARN, MISSING = "OK", "WARN", "MISSING"
MFA_MODEL = "english_us_arpa"
MFA_INSTALL = (f"conda create -n aligner -c conda-forge montreal-forced-aligner && conda activate aligner && "
               f"mfa model download acoustic {MFA_MODEL} && mfa model download dictionary {MFA_MODEL} "
               "(or pass --mfa-bin PATH; --aligner pocketsphinx needs no install)")
WAV2VEC2_DEFAULT = "facebook/wav2vec2-base-960h"
LOW_DISK_BYTES = 10 * 1024**3  # a prepared VOCASET cache with wav2vec2 features takes several GB


@dataclass
class Check:
    """One line of the report: ``name``, ``status`` (OK/WARN/MISSING), ``detail``, ``fix``."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<8}{self.name:<14}{self.detail}"
        return text + (f"\n{'':<22}fix: {self.fix}" if self.fix and self.status != OK else "")


def _run(command: list[str], timeout_s: float = 20.0) -> tuple[int, str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout_s:.0f} s"
    except OSError as exc:
        return -1, f"{exc.__class__.__name__}: {exc}"
    return done.returncode, (done.stdout + done.stderr).strip()


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "version unknown"


def _mfa_root() -> Path:
    return Path(os.environ.get("MFA_ROOT_DIR") or Path.home() / "Documents" / "MFA")


def check_mfa(mfa_bin: str | None = None) -> list[Check]:
    """The ``mfa`` executable (PATH or ``mfa_bin``) and its english_us_arpa models."""
    executable = shutil.which(mfa_bin or "mfa")
    if executable is None:
        where = f"'{mfa_bin}' not found" if mfa_bin else "'mfa' not on PATH"
        return [Check("mfa", MISSING, f"{where} (Montreal Forced Aligner, for --aligner mfa)", MFA_INSTALL)]
    code, output = _run([executable, "version"])
    version = output.splitlines()[-1].strip() if code == 0 and output else f"'mfa version' failed: {output[-200:]}"
    checks = [Check("mfa", OK if code == 0 else WARN, f"{executable} ({version})",
                    "" if code == 0 else "reinstall: " + MFA_INSTALL)]
    models = _mfa_root() / "pretrained_models"
    found = {kind: sorted((models / kind).glob(f"{MFA_MODEL}*")) if (models / kind).is_dir() else []
             for kind in ("acoustic", "dictionary")}
    missing = [kind for kind, paths in found.items() if not paths]
    if missing:
        fix = " && ".join(f"mfa model download {kind} {MFA_MODEL}" for kind in missing)
        checks.append(Check("mfa-models", WARN, f"no {MFA_MODEL} {' or '.join(missing)} model under {models} "
                            "(set MFA_ROOT_DIR if MFA keeps them elsewhere)", fix))
    else:
        checks.append(Check("mfa-models", OK, f"{MFA_MODEL} acoustic model and dictionary under {models}"))
    return checks


def check_pocketsphinx() -> Check:
    """The pocketsphinx wheel and the US English model inside it."""
    fix = "pip install pocketsphinx (its wheel carries the en-us acoustic model and dictionary)"
    try:
        import pocketsphinx
    except Exception as exc:
        return Check("pocketsphinx", MISSING, f"cannot import ({exc.__class__.__name__}: {exc})", fix)
    model = Path(pocketsphinx.get_model_path()) / "en-us"
    needed = [model / "en-us", model / "cmudict-en-us.dict"]
    absent = [p.name for p in needed if not p.exists()]
    if absent:
        return Check("pocketsphinx", MISSING, f"model files missing in {model}: {', '.join(absent)}", fix)
    return Check("pocketsphinx", OK, f"{_dist_version('pocketsphinx')}, en-us model in {model}")


def check_espeak() -> Check:
    """espeak-ng library and data from the espeakng-loader wheel (used by ``synth``)."""
    fix = "pip install espeakng-loader (ships libespeak-ng and its data; no system package needed)"
    try:
        import ctypes

        import espeakng_loader

        library, data = Path(espeakng_loader.get_library_path()), Path(espeakng_loader.get_data_path())
        ctypes.CDLL(str(library))
    except Exception as exc:
        return Check("espeak-ng", MISSING, f"cannot load ({exc.__class__.__name__}: {exc})", fix)
    if not (data / "phontab").exists():
        return Check("espeak-ng", MISSING, f"data folder {data} has no phontab", fix)
    return Check("espeak-ng", OK, f"{library.name} with data in {data}")


def _hf_hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return Path(home) / "hub"


def _has_weights(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(
        (folder / name).is_file() for name in ("model.safetensors", "pytorch_model.bin"))


def check_wav2vec2(model: str | None = None) -> Check:
    """wav2vec2 weights on disk (a ``--wav2vec2-model`` folder or the Hugging Face cache); no network."""
    name = model or WAV2VEC2_DEFAULT
    folder_name = Path(name).name
    from ..common.hub import download_command

    fix = (f"on a machine with network: '{download_command(WAV2VEC2_DEFAULT, folder_name)}', "
           f"copy the folder here and pass --wav2vec2-model PATH/{folder_name} (or use --features mel)")
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")):
        if _has_weights(path):
            return Check("wav2vec2", OK, f"weights in {path}")
        return Check("wav2vec2", MISSING, f"{path} has no config.json with model.safetensors/pytorch_model.bin", fix)
    hub = _hf_hub_cache()
    snapshots = hub / f"models--{name.replace('/', '--')}" / "snapshots"
    found = [s for s in sorted(snapshots.glob("*")) if _has_weights(s)] if snapshots.is_dir() else []
    if found:
        return Check("wav2vec2", OK, f"{name} in the Hugging Face cache ({found[-1]})")
    return Check("wav2vec2", MISSING, f"{name} not in the Hugging Face cache ({hub}); needed by the paper "
                 "defaults: HiSTalk's features ('prepare --features wav2vec2', or 'train histalk "
                 "--wav2vec2-model DIR'; predict/animate with such runs) and FaceFormer's encoder ('train "
                 "faceformer'); 'train histalk --features mel' and 'train faceformer --set audio_encoder=tiny' "
                 "(the demo's settings) need no weights", fix)


def check_torch() -> list[Check]:
    """torch version (pinned 2.13.0) and whether CUDA GPUs are usable."""
    try:
        import torch
    except Exception as exc:
        return [Check("torch", MISSING, f"cannot import ({exc.__class__.__name__}: {exc})",
                      "pip install torch==2.13.0 (CPU or the CUDA build matching your driver)")]
    version = torch.__version__
    pinned = version.split("+")[0] == "2.13.0"
    checks = [Check("torch", OK if pinned else WARN, f"{version}, {torch.get_num_threads()} CPU threads",
                    "" if pinned else "histalk-bench is tested with torch==2.13.0")]
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        checks.append(Check("cuda", OK, f"CUDA {torch.version.cuda}: {torch.cuda.device_count()} GPU(s): {names}"))
    else:
        built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        checks.append(Check("cuda", WARN, f"no usable GPU (torch is {built}); training and wav2vec2 run on CPU",
                            "on a GPU machine install the CUDA build of torch==2.13.0 for your driver"))
    return checks


def check_rendering(timeout_s: float = 30.0) -> Check:
    """pyrender with an EGL offscreen context, tried in a child process with a timeout."""
    import importlib.util

    if importlib.util.find_spec("pyrender") is None:
        return Check("rendering", WARN, "pyrender not installed; 'render' and 'animate' use the numpy CPU "
                     "rasteriser (no GPU needed)",
                     "for GPU rendering: pip install -e '.[render]' in the clone (pyrender, PyOpenGL; "
                     "pip install 'histalk-bench[render]' from a package index) and the EGL libraries")
    from ..rendering.backend_pyrender import probe_egl

    probe = probe_egl(timeout_s)
    if probe.works and probe.software:
        return Check("rendering", OK, f"{probe.detail}; a CPU rasteriser, so 'render --backend auto' uses "
                     "the numpy rasteriser (faster here) and --backend pyrender forces OpenGL")
    if probe.works:
        return Check("rendering", OK, probe.detail)
    return Check("rendering", WARN, f"no offscreen OpenGL: {probe.detail}; 'render' uses the numpy rasteriser",
                 "apt-get install libegl1 libgl1 libgles2 (Debian/Ubuntu), keep PYOPENGL_PLATFORM=egl "
                 "(or try PYOPENGL_PLATFORM=osmesa with libosmesa6)")


def check_ffmpeg() -> Check:
    """The ffmpeg binary of imageio-ffmpeg, with the H.264 and AAC encoders ``render`` uses."""
    fix = "pip install imageio-ffmpeg (its wheel carries ffmpeg with libx264 and aac)"
    try:
        import imageio_ffmpeg

        executable = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:
        return Check("ffmpeg", MISSING, f"no ffmpeg from imageio-ffmpeg ({exc.__class__.__name__}: {exc})", fix)
    code, output = _run([executable, "-hide_banner", "-encoders"])
    missing = [name for name in ("libx264", "aac") if f" {name} " not in output]
    if code != 0 or missing:
        return Check("ffmpeg", WARN, f"{executable} lacks encoder(s): {', '.join(missing) or output[-200:]}", fix)
    return Check("ffmpeg", OK, f"{executable} (libx264, aac)")


def check_disk(cache_dir: str | os.PathLike | None = None) -> Check:
    """Free space where caches will be written (``cache_dir`` or the current folder)."""
    target = Path(cache_dir or ".").expanduser().resolve()
    probe = target
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free_gb = usage.free / 1024**3
    note = "" if target.exists() else f" ({target} does not exist yet; measured at {probe})"
    detail = f"{free_gb:.1f} GiB free of {usage.total / 1024**3:.1f} GiB at {target}{note}"
    if usage.free < LOW_DISK_BYTES:
        return Check("disk", WARN, detail, "free space or choose --out on a larger disk: a VOCASET cache with "
                     "wav2vec2 features takes several GiB")
    return Check("disk", OK, detail)


def check_python() -> Check:
    from .. import __version__

    major, minor = sys.version_info[:2]
    status = OK if (major, minor) == (3, 11) else WARN
    return Check("python", status, f"{sys.version.split()[0]} ({sys.executable}), histalk-bench {__version__}",
                 "" if status == OK else "histalk-bench is tested on Python 3.11")


def run_checks(cache_dir: str | os.PathLike | None = None, mfa_bin: str | None = None,
               wav2vec2_model: str | None = None, egl_timeout_s: float = 30.0) -> list[Check]:
    """Every check, in report order."""
    return [check_python(), *check_torch(), check_wav2vec2(wav2vec2_model), *check_mfa(mfa_bin),
            check_pocketsphinx(), check_espeak(), check_rendering(egl_timeout_s), check_ffmpeg(),
            check_disk(cache_dir)]


def report(checks: list[Check]) -> str:
    """The checks as text, one line each (plus an indented fix line when not OK), and a summary."""
    lines = [check.line() for check in checks]
    counts = {status: sum(c.status == status for c in checks) for status in (OK, WARN, MISSING)}
    lines.append(f"{counts[OK]} ok, {counts[WARN]} warnings, {counts[MISSING]} missing")
    return "\n".join(lines)


def as_dicts(checks: list[Check]) -> list[dict]:
    return [asdict(check) for check in checks]
