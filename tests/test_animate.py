"""animate: a wav -> a video (and vertices, an .obj sequence, a lip plot) with a tiny trained
HiSTalk; render reads what predict --audio writes; condition choice; fast input errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from histalk_bench.common.errors import UserError
from histalk_bench.predict.audio import resolve_conditions

SLOW_IMPORTS = ("torch", "transformers", "matplotlib", "h5py")


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=env)


@pytest.fixture(scope="module")
def run(vocaset_cache, tmp_path_factory):
    """A 2-epoch HiSTalk run that recorded its cache, and generated speech of a test sentence."""
    import soundfile

    from histalk_bench.cache import Cache
    from histalk_bench.models.histalk.api import train
    from histalk_bench.predict.audio import record_training_cache

    root = tmp_path_factory.mktemp("animate")
    train(vocaset_cache, root / "run", epochs=2, progress=False, d_model=16, features="mel", stage_layers=[1, 1, 1, 1])
    record_training_cache(root / "run", vocaset_cache)
    with Cache(vocaset_cache) as cache:
        ref = cache.sequences("test")[0]
        audio = cache.audio(ref.subject, ref.sentence)
        speakers = sorted(cache.subjects("train"))
    soundfile.write(root / "speech.wav", audio, 16000)
    return root, ref, speakers


@pytest.mark.slow
def test_animate_writes_video_vertices_obj_sequence_and_plot(run, vocaset_cache):
    from histalk_bench.rendering.video import probe_streams

    root, ref, _ = run
    out = root / "speech.mp4"
    done = _cli("animate", root / "speech.wav", "--run", root / "run", "--out", out, "--size", "64", "--workers", "1",
                "--save-npy", root / "speech.npy", "--save-obj", root / "obj", "--plot", root / "lips.png",
                "--no-progress", "--threads", "1")
    assert done.returncode == 0, done.stderr
    # the run recorded its cache: template and triangles come from it; the default condition is named
    assert "recorded by the run" in done.stderr and "faces from cache.h5" in done.stderr
    assert "(default, the first of" in done.stderr and "--condition all" in done.stderr
    assert "1 thread(s) from --threads" in done.stdout and "backend numpy" in done.stdout
    info = probe_streams(out)
    assert "h264" in info["video"][0] and "aac" in info["audio"][0]
    assert info["duration_s"] == pytest.approx(ref.n_frames / 30.0, abs=0.15)
    vertices = np.load(root / "speech.npy").reshape(ref.n_frames, -1, 3)
    assert np.ptp(vertices, axis=0).max() > 0  # the face moves
    objs = sorted((root / "obj").glob("*.obj"))
    assert len(objs) == ref.n_frames
    lines = objs[3].read_text().splitlines()
    v = np.array([[float(x) for x in line.split()[1:]] for line in lines if line.startswith("v ")])
    np.testing.assert_allclose(v, vertices[3], atol=2e-6)
    assert sum(line.startswith("f ") for line in lines) > 0
    assert (root / "lips.png").stat().st_size > 5000


@pytest.mark.slow
def test_condition_all_and_render_reads_predict_audio_outputs(run, vocaset_cache):
    from histalk_bench.rendering.render import render_new_audio

    root, ref, _ = run
    h5, npy = root / "all.h5", root / "one.npy"
    done = _cli("predict", "--run", root / "run", "--audio", root / "speech.wav", "--template", ref.subject,
                "--data", vocaset_cache, "--condition", "all", "--out", h5, "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert "all 2 speaker conditions" in done.stderr or "speaker conditions" in done.stderr
    done = _cli("predict", "--run", root / "run", "--audio", root / "speech.wav", "--template", ref.subject,
                "--data", vocaset_cache, "--out", npy, "--threads", "1")
    assert done.returncode == 0 and "(default, the first of" in done.stderr
    result = render_new_audio([h5], root / "all.mp4", data=str(vocaset_cache), condition="all", size=64, workers=1,
                              progress=False)
    assert len(result.labels) >= 2 and all("[" in label for label in result.labels)
    assert any("audio from" in note for note in result.notes)  # the wav recorded in the .h5
    result = render_new_audio([npy], root / "one.mp4", audio=str(root / "speech.wav"), data=str(vocaset_cache),
                              size=64, workers=2, progress=False)
    assert result.labels == ["one"] and result.n_frames == ref.n_frames and result.backend == "numpy"
    done = _cli("render", "--pred", npy, "--out", root / "cli.mp4", "--size", "64", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "point cloud" in done.stderr and "backend matplotlib" in done.stdout


def test_resolve_conditions():
    assert resolve_conditions((), None) == ([None], None)
    assert resolve_conditions(("A",), None) == (["A"], None)
    chosen, note = resolve_conditions(("A", "B"), None)
    assert chosen == ["A"] and "A, B" in note and "default" in note
    assert resolve_conditions(("A", "B"), "all")[0] == ["A", "B"]
    assert resolve_conditions(("A", "B"), "B") == (["B"], None)
    with pytest.raises(UserError, match="unknown condition 'C'.*A, B"):
        resolve_conditions(("A", "B"), "C")
    with pytest.raises(UserError, match="no speaker conditions"):
        resolve_conditions((), "A")


def test_mistakes_are_reported_before_torch_loads(tmp_path):
    code = ("import sys\nfrom histalk_bench.cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
            f"print('LOADED', [m for m in {SLOW_IMPORTS!r} if m in sys.modules])\n")
    (tmp_path / "run").mkdir()
    cases = [["animate", tmp_path / "nosuch.wav", "--checkpoint", tmp_path / "x.pt", "--out", tmp_path / "x.mp4"],
             ["animate", tmp_path / "a.wav", "--run", tmp_path / "run", "--out", tmp_path / "x.mp4"],
             ["predict", "--audio", tmp_path / "a.wav", "--run", tmp_path / "nosuch", "--out", tmp_path / "x.npy"],
             ["train", "histalk", "--data", tmp_path / "nosuch.h5", "--out", tmp_path / "r"],
             ["animate", tmp_path / "a.wav", "--run", tmp_path / "run", "--out", tmp_path / "x.avi"]]
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    expected = ["checkpoint not found", "no best.pt or last.pt", "run folder not found", "cache not found", ".mp4"]
    for args, message in zip(cases, expected):
        done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
        assert message in done.stderr, (args, done.stderr)
        assert "LOADED []" in done.stdout, (args, done.stdout)


REFERENCE_WAV = Path(os.environ.get("HISTALK_REFERENCE", Path(__file__).resolve().parents[2] / "shared" / "reference"))
REFERENCE_WAV = REFERENCE_WAV / "audio" / "faceformer_demo_44k.wav"


@pytest.mark.slow
@pytest.mark.skipif(not REFERENCE_WAV.exists(), reason="../shared/reference/audio is not present")
def test_animate_real_recording(run, tmp_path):
    from histalk_bench.rendering.video import extract_frames, probe_streams

    root, _, _ = run
    out = tmp_path / "demo.mp4"
    done = _cli("animate", REFERENCE_WAV, "--run", root / "run", "--out", out, "--size", "96", "--no-progress",
                "--save-npy", tmp_path / "demo.npy")
    assert done.returncode == 0, done.stderr
    info = probe_streams(out)
    import soundfile

    assert info["duration_s"] == pytest.approx(soundfile.info(str(REFERENCE_WAV)).duration, abs=0.2)
    vertices = np.load(tmp_path / "demo.npy")
    assert np.isfinite(vertices).all() and np.ptp(vertices, axis=0).max() > 0
    assert len(extract_frames(out, tmp_path / "frames", [0.5, 1.5])) == 2


def test_signed_fdd_is_plotted_as_distance_to_zero():
    from histalk_bench.evaluate.plots import _absolute

    values, low, high = _absolute(np.array([-3.0, 2.0, 0.5]), np.array([-4.0, 1.0, -0.5]), np.array([-2.0, 3.0, 1.0]))
    np.testing.assert_allclose(values, [3.0, 2.0, 0.5])
    np.testing.assert_allclose(low, [2.0, 1.0, 0.0])  # the third CI spans 0
    np.testing.assert_allclose(high, [4.0, 3.0, 1.0])


@pytest.mark.slow
def test_transcript_gives_aligned_units(run, vocaset_cache):
    from histalk_bench.predict.audio import animate_audio
    from histalk_bench.tools.doctor import OK, check_pocketsphinx

    if check_pocketsphinx().status != OK:
        pytest.skip("pocketsphinx and its English model are not installed")
    root, ref, _ = run
    common = {"data": str(vocaset_cache), "run_dir": root / "run", "device": "cpu", "condition": "all"}
    plain = animate_audio("histalk", root / "speech.wav", ref.subject, **common)
    aligned = animate_audio("histalk", root / "speech.wav", ref.subject, transcript=ref.transcript, **common)
    assert any("forced alignment" in note for note in aligned.notes)
    assert any("statistical windows" in note for note in plain.notes)  # aligned run, no transcript: said
    assert set(plain.vertices) == set(aligned.vertices)
    for condition, vertices in plain.vertices.items():
        assert vertices.shape == aligned.vertices[condition].shape
        assert not np.allclose(vertices, aligned.vertices[condition])  # other units, other motion
    with pytest.raises(UserError, match="does not use phone/word units"):
        from histalk_bench.predict.audio import unit_predictor

        unit_predictor(type("P", (), {"name": "faceformer"})(), None)


@pytest.mark.slow
def test_faceformer_run_animates_with_an_int8_encoder(run, vocaset_cache, tmp_path):
    from histalk_bench.models.faceformer.api import train
    from histalk_bench.predict.animate import AnimateOptions, animate

    root, ref, _ = run
    train(vocaset_cache, tmp_path / "ff", epochs=1, progress=False, teacher_forcing=True, audio_encoder="tiny")
    results = {}
    for backbone in ("auto", "int8"):
        options = AnimateOptions(model="faceformer", run_dir=str(tmp_path / "ff"), data=str(vocaset_cache),
                                 template=ref.subject, backbone=backbone, size=64, workers=1, progress=False,
                                 condition="all", save_npy=str(tmp_path / f"{backbone}.h5"))
        results[backbone] = animate(root / "speech.wav", tmp_path / f"{backbone}.mp4", options)
    assert any(note == "wav2vec2 audio encoder fp32" for note in results["auto"].notes)
    assert any(note == "wav2vec2 audio encoder int8" for note in results["int8"].notes)
    exact, quantized = (results[b].prediction.vertices for b in ("auto", "int8"))
    assert set(exact) == set(quantized) and len(exact) >= 2  # one prediction per training speaker
    for condition in exact:
        assert exact[condition].shape == quantized[condition].shape
        assert not np.array_equal(exact[condition], quantized[condition])
    assert results["int8"].render.labels == [f"faceformer [{c}]" for c in quantized]
