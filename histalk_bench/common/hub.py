"""The Hugging Face download command that works with the installed ``huggingface_hub``:
``hf download`` (huggingface_hub >= 0.34, the only CLI from 1.0 on) or the older
``huggingface-cli download``.  Checked at run time, without importing huggingface_hub."""

from __future__ import annotations

import shutil
from importlib import metadata


def hub_cli() -> str:
    """'hf' or 'huggingface-cli': the CLI on PATH, else the one the installed version ships."""
    if shutil.which("hf"):
        return "hf"
    if shutil.which("huggingface-cli"):
        return "huggingface-cli"
    try:
        version = tuple(int(p) for p in metadata.version("huggingface_hub").split(".")[:2] if p.isdigit())
    except metadata.PackageNotFoundError:
        return "hf"  # what a fresh 'pip install huggingface_hub' gives
    return "hf" if version >= (0, 34) else "huggingface-cli"


def download_command(repo_id: str, local_dir: str) -> str:
    """e.g. 'hf download facebook/wav2vec2-base-960h --local-dir wav2vec2-base-960h'."""
    return f"{hub_cli()} download {repo_id} --local-dir {local_dir}"


def missing_pretrained_message(owner: str, repo_id: str, option: str, demo: str) -> str:
    """The one-line refusal when a model's paper setting needs pretrained weights that are not here:
    ``owner`` e.g. "FaceFormer's audio encoder", ``option`` how to pass the downloaded folder
    (e.g. '--wav2vec2-model'), ``demo`` the weight-free CPU configuration (e.g. '--set audio_encoder=tiny')."""
    folder = repo_id.rsplit("/", 1)[-1]
    return (f"{owner} is pretrained {repo_id} (the paper's setting) and its weights are not available here: on a "
            f"machine with network run '{download_command(repo_id, folder)}' and pass {option}{'' if option.endswith('=') else ' '}PATH/{folder} (or use "
            f"--allow-download); {demo} is the CPU demo configuration (random weights, not the paper's)")
