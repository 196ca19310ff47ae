"""doctor: real checks on this machine; a stand-in `mfa` script proves the found path."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from histalk_bench.common.hub import download_command

from histalk_bench.tools import doctor
from histalk_bench.tools.doctor import MISSING, OK, WARN


def _stand_in_mfa(folder):
    script = folder / "mfa"
    script.write_text("#!/bin/sh\nif [ \"$1\" = version ]; then echo 3.1.4; exit 0; fi\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


def test_mfa_missing_reports_conda_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without any mfa
    assert shutil.which("mfa") is None
    (check,) = doctor.check_mfa()
    assert check.status == MISSING and "'mfa' not on PATH" in check.detail
    assert "conda create -n aligner -c conda-forge montreal-forced-aligner" in check.fix
    assert "mfa model download acoustic english_us_arpa" in check.fix
    assert "mfa model download dictionary english_us_arpa" in check.fix
    assert "fix: conda create" in check.line()


def test_mfa_stand_in_on_path_is_found_and_models_checked(monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = _stand_in_mfa(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MFA_ROOT_DIR", str(tmp_path / "mfa_root"))
    found, models = doctor.check_mfa()
    assert found.status == OK and str(script) in found.detail and "3.1.4" in found.detail
    assert models.status == WARN and "mfa model download acoustic english_us_arpa" in models.fix
    for kind, name in (("acoustic", "english_us_arpa.zip"), ("dictionary", "english_us_arpa.dict")):
        (tmp_path / "mfa_root" / "pretrained_models" / kind).mkdir(parents=True)
        (tmp_path / "mfa_root" / "pretrained_models" / kind / name).write_text("x")
    assert doctor.check_mfa()[1].status == OK


def test_mfa_bin_option_and_broken_binary(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    script = _stand_in_mfa(tmp_path / "")
    assert doctor.check_mfa(str(script))[0].status == OK
    broken = tmp_path / "brokenmfa"
    broken.write_text("#!/bin/sh\necho kaldi missing >&2\nexit 3\n")
    broken.chmod(0o755)
    check = doctor.check_mfa(str(broken))[0]
    assert check.status == WARN and "kaldi missing" in check.detail
    assert doctor.check_mfa(str(tmp_path / "nope"))[0].status == MISSING


def test_wav2vec2_folder_and_hf_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    check = doctor.check_wav2vec2()
    assert check.status == MISSING and download_command("facebook/wav2vec2-base-960h", "wav2vec2-base-960h") in check.fix
    snapshot = tmp_path / "hub" / "models--facebook--wav2vec2-base-960h" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    assert doctor.check_wav2vec2().status == MISSING  # config without weights
    (snapshot / "model.safetensors").write_bytes(b"0")
    assert doctor.check_wav2vec2().status == OK
    folder = tmp_path / "w2v"
    folder.mkdir()
    assert doctor.check_wav2vec2(str(folder)).status == MISSING
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"0")
    assert doctor.check_wav2vec2(str(folder)).status == OK


def test_bundled_components_found_here(tmp_path):
    assert doctor.check_pocketsphinx().status == OK
    assert doctor.check_espeak().status == OK
    ffmpeg = doctor.check_ffmpeg()
    assert ffmpeg.status == OK and "libx264" in ffmpeg.detail
    disk = doctor.check_disk(tmp_path / "not" / "yet")
    assert disk.status in (OK, WARN) and "does not exist yet" in disk.detail and "GiB free" in disk.detail


@pytest.mark.slow
def test_cli_reports_every_check_and_exits_zero(tmp_path):
    env = dict(os.environ, PATH=f"{os.path.dirname(sys.executable)}{os.pathsep}/usr/bin{os.pathsep}/bin")
    if shutil.which("mfa", path=env["PATH"]):
        pytest.skip("a real mfa is installed in /usr/bin")
    base = [sys.executable, "-m", "histalk_bench.cli.main", "doctor", "--cache-dir", str(tmp_path)]
    done = subprocess.run(base, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    names = ["python", "torch", "cuda", "wav2vec2", "mfa", "pocketsphinx", "espeak-ng", "rendering", "ffmpeg", "disk"]
    lines = done.stdout.splitlines()
    for name in names:
        assert any(line.split()[1:2] == [name] for line in lines if line[:1] != " "), name
    assert any(line.startswith("MISSING mfa") for line in lines)
    assert "conda create -n aligner -c conda-forge montreal-forced-aligner" in done.stdout
    as_json = subprocess.run(base + ["--json"], capture_output=True, text=True, env=env)
    parsed = json.loads(as_json.stdout)
    assert {entry["name"] for entry in parsed} >= set(names)
    assert all(entry["status"] in (OK, WARN, MISSING) for entry in parsed)


def test_hub_cli_is_the_one_on_path(monkeypatch, tmp_path):
    from histalk_bench.common.hub import hub_cli

    for name in ("huggingface-cli", "hf"):  # a PATH with the old CLI only, then with both
        tool = tmp_path / name
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
        monkeypatch.setenv("PATH", str(tmp_path))
        assert hub_cli() == name
    assert download_command("org/model", "model") == "hf download org/model --local-dir model"
