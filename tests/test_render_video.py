"""render: real mp4 files from a generated cache, checked with ffmpeg (streams, pixels)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from histalk_bench.cache import Cache
from histalk_bench.common.errors import UserError
from histalk_bench.rendering.render import choose_backend, parse_sequence, render_sequence
from histalk_bench.rendering.video import extract_frames, probe_streams

from _render_helpers import SENTENCE, SUBJECT, write_cache, write_predictions

SEQ = f"{SUBJECT}/{SENTENCE}"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("render")
    cache = write_cache(root / "cache.h5", n_frames=24)
    gt = Cache(cache).vertices(SUBJECT, SENTENCE)
    laggy = write_predictions(root / "laggy.h5", gt, model="laggy", lag=3)
    noisy = write_predictions(root / "noisy.h5", gt, model="noisy", noise=0.003, conditions=["spkA", "spkB"])
    return root, cache, laggy, noisy


def _png(path):
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_matplotlib_video_has_video_and_audio_and_panels(files):
    root, cache, laggy, noisy = files
    out = root / "mpl.mp4"
    result = render_sequence(cache, [laggy, noisy], SEQ, out, error_colors=True, size=128,
                             backend="matplotlib", progress=False)
    assert result.backend == "matplotlib" and result.n_frames == 24
    assert result.labels == ["ground truth", "laggy", "noisy [spkA]"]
    info = probe_streams(out)
    assert info["video"] and "h264" in info["video"][0] and "yuv420p" in info["video"][0]
    assert info["audio"] and "aac" in info["audio"][0] and "16000 Hz" in info["audio"][0]
    assert info["fps"] == pytest.approx(30.0)
    width, height = info["size"]
    assert width == 3 * 128 and height % 2 == 0
    assert info["duration_s"] == pytest.approx(24 / 30, abs=0.1)
    frame = _png(extract_frames(out, root / "frames", [0.4])[0])
    top = frame.shape[0] - height + 128 // 14 + 4  # inside the panels, below the labels
    panels = [frame[top: top + 100, i * 128: (i + 1) * 128] for i in range(3)]
    for panel in panels:  # each panel shows a mesh, not just the white background
        assert (panel.sum(axis=2) < 600).mean() > 0.1
    gt_panel, noisy_panel = panels[0], panels[2]
    # ground truth is grey skin; the error-coloured noisy prediction is tinted (YlOrRd colours)
    grey = np.abs(gt_panel[..., 0] - gt_panel[..., 2]) < 20
    assert grey.mean() > 0.9
    tinted = (noisy_panel[..., 0] - noisy_panel[..., 1]) > 25
    assert tinted.mean() > 0.1


def test_condition_choice_and_errors(files):
    root, cache, laggy, noisy = files
    result = render_sequence(cache, [noisy], SEQ, root / "b.mp4", condition="spkB", size=64,
                             backend="matplotlib", progress=False)
    assert result.labels == ["ground truth", "noisy [spkB]"]
    with pytest.raises(UserError, match="no condition 'spkC'.*spkA, spkB"):
        render_sequence(cache, [noisy], SEQ, root / "c.mp4", condition="spkC", size=64,
                        backend="matplotlib", progress=False)
    with pytest.raises(UserError, match="no sequence 'S01/sentence99'"):
        render_sequence(cache, [laggy], f"{SUBJECT}/sentence99", root / "d.mp4", size=64,
                        backend="matplotlib", progress=False)
    with pytest.raises(UserError, match="SUBJECT/SENTENCE"):
        parse_sequence("S01")
    assert not (root / "c.mp4").exists() and not (root / "d.mp4").exists()


def test_ground_truth_only_and_no_faces_point_cloud(tmp_path):
    cache = write_cache(tmp_path / "nofaces.h5", n_frames=6, with_faces=False)
    assert choose_backend("auto", has_faces=False)[0] == "matplotlib"
    with pytest.raises(UserError, match="no /faces"):
        choose_backend("pyrender", has_faces=False)
    result = render_sequence(cache, [], SEQ, tmp_path / "gt.mp4", size=64, backend="auto", progress=False)
    assert result.backend == "matplotlib" and "point cloud" in result.backend_reason
    info = probe_streams(tmp_path / "gt.mp4")
    assert info["video"] and info["audio"] and info["size"][0] == 64


def test_pyrender_backend_when_egl_works(files):
    pytest.importorskip("pyrender")
    from histalk_bench.rendering.backend_pyrender import probe_egl

    probe = probe_egl(timeout_s=30)
    if not probe.works:
        pytest.skip(f"no EGL: {probe.detail}")
    assert probe.renderer
    assert choose_backend("auto", has_faces=True)[0] == ("matplotlib" if probe.software else "pyrender")
    root, cache, laggy, noisy = files
    out = root / "gl.mp4"
    result = render_sequence(cache, [laggy], SEQ, out, error_colors=True, size=128, backend="pyrender",
                             progress=False)
    assert result.backend == "pyrender"
    frame = _png(extract_frames(out, root / "glframes", [0.3])[0])
    info = probe_streams(out)
    top = frame.shape[0] - info["size"][1] + 128 // 14 + 4
    gt_panel = frame[top: top + 100, :128]
    mesh = gt_panel.sum(axis=2) < 600
    assert mesh.mean() > 0.1
    assert gt_panel[mesh].mean() > 60  # lit, not a black silhouette


def test_cli_writes_video_and_reports_bad_input(files):
    root, cache, laggy, _ = files
    out = root / "cli.mp4"
    base = [sys.executable, "-m", "histalk_bench.cli.main", "render", "--data", str(cache), "--pred", str(laggy),
            "--size", "64", "--backend", "matplotlib", "--no-progress"]
    done = subprocess.run(base + ["--sequence", SEQ, "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "backend matplotlib" in done.stdout and out.exists()
    bad = subprocess.run(base + ["--sequence", "nosuch", "--out", str(root / "x.mp4")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr


def test_shorter_prediction_and_short_audio_set_the_length(tmp_path):
    from histalk_bench.cache import CacheWriter, SequenceData
    from _render_helpers import animated_head

    template, faces, vertices = animated_head(30)
    cache = tmp_path / "short_audio.h5"
    writer = CacheWriter(cache, dataset="biwi", fps=25.0, n_vertices=len(template), force=True)
    writer.set_templates({SUBJECT: template})
    writer.set_faces(faces)
    writer.write_sequence(SequenceData(SUBJECT, SENTENCE, vertices, np.zeros(1600, np.float32), split="test"))
    writer.finalize()
    short = write_predictions(tmp_path / "short.h5", vertices[:20], model="short")
    result = render_sequence(cache, [short], SEQ, tmp_path / "s.mp4", error_colors=True, size=64,
                             backend="matplotlib", progress=False)
    assert result.n_frames == 20 and result.fps == 25.0
    info = probe_streams(tmp_path / "s.mp4")
    assert info["audio"] and info["duration_s"] == pytest.approx(20 / 25, abs=0.1)  # audio padded, video not cut

