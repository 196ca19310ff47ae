"""HiSTalk: shapes, masking, gates, fusion, determinism, overfitting, checkpoints and prediction."""

import json

import numpy as np
import pytest
import torch

from histalk_bench.models.data import collate, model_inputs
from histalk_bench.models.histalk.config import HiSTalkConfig
from histalk_bench.models.histalk.model import HiSTalk

torch.set_num_threads(1)


def _config(**overrides):
    values = dict(n_vertices=30, n_landmarks=6, feature_layers=3, feature_dim=8, d_model=16, n_heads=2,
                  speakers=("A", "B"), dropout=0.0, stage_layers=(1, 1, 1, 1), feature="mel")
    values.update(overrides)
    return HiSTalkConfig(**values)


def _tiers(n_frames, fps=30.0):
    words = [(0.1 * i, 0.1 * i + 0.08, f"w{i}") for i in range(int(n_frames / fps / 0.1) + 1)]
    phones = [(0.03 * i, 0.03 * i + 0.03, "p") for i in range(int(n_frames / fps / 0.03) + 1)]
    return phones, words


def _item(n_frames, seed=0, fps=30.0, units="aligned"):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(int(n_frames / fps * 100) + 1, 3, 8)).astype(np.float32)  # 100 Hz, like log-mel
    return {**model_inputs(features, 100.0, "mel", n_frames, fps, units, *_tiers(n_frames, fps)), "key": f"k{n_frames}",
            "speaker": 0, "motion": rng.normal(size=(n_frames, 30, 3)).astype(np.float32),
            "sparse": rng.normal(size=(n_frames, 6, 3)).astype(np.float32)}


def _randomise_heads(model, seed=0):
    """Output layers start at zero (and the CMG basis is set at train time): give them values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in (model.s2d.head.weight, model.s2d.head.bias):
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
        if model.cmg is not None:
            model.cmg.basis.copy_(torch.randn(model.cmg.basis.shape, generator=generator))
            model.cmg.head.weight.copy_(torch.randn(model.cmg.head.weight.shape, generator=generator) * 0.1)
    return model


@pytest.mark.parametrize("n_frames", [1, 7, 301])
def test_output_shapes_for_odd_lengths(n_frames):
    model = HiSTalk(_config()).eval()
    out = model(collate([_item(n_frames)]))
    assert out["motion"].shape == (1, n_frames, 30, 3)
    assert out["coarse"].shape == out["dense"].shape == (1, n_frames, 30, 3)
    assert out["sparse"].shape == (1, n_frames, 6, 3)
    assert torch.isfinite(out["motion"]).all()


def test_padding_does_not_change_real_frames():
    torch.manual_seed(0)
    model = _randomise_heads(HiSTalk(_config())).eval()
    short, long = _item(9, seed=1), _item(40, seed=2)
    alone = model(collate([short]))["motion"][0]
    batched = model(collate([short, long]))
    assert alone.abs().max() > 0
    torch.testing.assert_close(batched["motion"][0, :9], alone, rtol=1e-4, atol=1e-5)
    assert batched["motion"][0, 9:].abs().max() == 0


def test_stages_run_at_the_acoustic_rate_and_default_layers_follow_speechformerpp():
    from histalk_bench.models.data import ACOUSTIC_RATE, to_acoustic_rate

    assert HiSTalkConfig().stage_layers == (2, 2, 4, 4) and HiSTalkConfig().feature == "wav2vec2"
    model = HiSTalk(_config(stage_layers=(2, 2, 4, 4)))
    assert [len(model.hsf2s.stages[level].layers) for level in ("frame", "phone", "word", "utterance")] == [2, 2, 4, 4]
    batch = collate([_item(60)])  # 2 s: 60 mesh frames, 100 acoustic frames
    assert batch["audio"].shape[1] == 2 * ACOUSTIC_RATE and batch["phone"].shape[1] == 100
    # 100 Hz -> 50 Hz keeps every frame: each input frame moves the output
    mel = np.zeros((200, 1))
    for i in range(0, 199):
        bumped = mel.copy()
        bumped[i] = 1.0
        assert np.abs(to_acoustic_rate(bumped, 100.0, 100, 0.0) - to_acoustic_rate(mel, 100.0, 100, 0.0)).max() > 0


def test_feature_and_unit_times_share_frame_centres():
    """A phone boundary at 0.5 s splits the 50 Hz frames there, and mesh frame t reads the
    acoustic frames around its centre (t + 0.5) / fps, not its start."""
    from histalk_bench.models.data import mesh_interpolation, resample_features

    item = model_inputs(np.zeros((100, 2), np.float32), 100.0, "mel", 30, 30.0, "aligned",
                        [(0.0, 0.5, "a"), (0.5, 1.0, "b")], [(0.0, 1.0, "w")])
    assert item["phone"].tolist() == [0] * 25 + [1] * 25
    interp = mesh_interpolation(30, 30.0, 50)
    centre = (interp["mesh_low"] + interp["mesh_weight"] + 0.5) / 50.0  # time of the interpolated point
    np.testing.assert_allclose(centre[1:-1], (np.arange(1, 29) + 0.5) / 30.0, atol=1e-6)
    ramp = (np.arange(100) / 100.0)[:, None]  # value = centre time of a centred 100 Hz frame
    np.testing.assert_allclose(resample_features(ramp, 100.0, 30, 30.0, 0.0)[:-1, 0], (np.arange(29) + 0.5) / 30, atol=1e-6)


def test_word_tokens_carry_context_across_phone_units():
    """With unit attention a frame sees only its phone; the word tokens let a change in one
    phone reach frames of another phone in the same ~1 s chunk."""
    from histalk_bench.models.histalk.hsf2s import HierarchicalSpeechToSparse

    batch = collate([_item(30)])
    x = torch.randn(1, batch["audio"].shape[1], 16)
    changed = x.clone()
    inside = batch["phone"][0] == 3
    changed[0, inside] += 1.0
    for use_word_tokens, reaches in ((True, True), (False, False)):
        torch.manual_seed(0)
        hsf2s = HierarchicalSpeechToSparse(_config(levels=("frame",), use_word_tokens=use_word_tokens, stage_layers=(2, 1, 1, 1))).eval()
        a = hsf2s(x, batch)["streams"]["frame"]
        b = hsf2s(changed, batch)["streams"]["frame"]
        far = torch.zeros(a.shape[1], dtype=torch.bool)
        far[18:25] = True  # mesh frames far from phone 3 (~0.1 s), in its ~1 s chunk
        assert (not torch.allclose(a[0, far], b[0, far])) == reaches


def test_units_switch_changes_the_model_input():
    aligned, statistical = _item(60, units="aligned"), _item(60, units="statistical")
    np.testing.assert_array_equal(aligned["audio"], statistical["audio"])
    assert aligned["phone"].tolist() != statistical["phone"].tolist()
    torch.manual_seed(0)
    model = _randomise_heads(HiSTalk(_config())).eval()
    a, b = model(collate([aligned]))["motion"], model(collate([statistical]))["motion"]
    assert not torch.allclose(a, b)


def test_se_weights_vary_across_landmarks_and_time_and_sum_to_one_over_levels():
    torch.manual_seed(0)
    model = HiSTalk(_config()).eval()
    out = model(collate([_item(25), _item(12, seed=3)]))
    weights = out["se_weights"]  # (B, T, levels, K)
    assert weights.shape == (2, 25, 4, 6)
    torch.testing.assert_close(weights.sum(2), torch.ones(2, 25, 6))
    first = weights[0]
    assert first.std(dim=2).mean() > 1e-3  # across landmarks
    assert first.std(dim=0).mean() > 1e-3  # across time
    streams = torch.stack([out["streams"][level] for level in ("frame", "phone", "word", "utterance")], 2)
    torch.testing.assert_close(out["sparse"], (streams * weights[..., None]).sum(2))  # S = sum of weighted streams
    flat = HiSTalk(_config(use_se_gate=False)).eval()(collate([_item(25)]))["se_weights"]
    assert torch.all(flat == 0.25)


def test_every_s2d_branch_is_a_transformer_and_fusion_weights_sum_to_one():
    model = HiSTalk(_config()).eval()
    assert model.branch_names == ("utterance", "word", "sparse", "phone", "frame")
    for name, branch in model.s2d.branches.items():
        attention = [m for m in branch.modules() if isinstance(m, torch.nn.MultiheadAttention)]
        assert len(attention) == (2 if name != "sparse" else 1)  # self- (and cross-) attention
    out = model(collate([_item(25), _item(12, seed=3)]))
    assert out["fusion"].shape[-1] == 5
    torch.testing.assert_close(out["fusion"].sum(-1), torch.ones(out["fusion"].shape[:2]))


def test_s2d_branches_see_the_whole_sequence():
    """Self-attention: changing the stream at frame 0 changes a branch's output at the last frame."""
    torch.manual_seed(0)
    branch = HiSTalk(_config()).eval().s2d.branches["sparse"]
    stream = torch.randn(1, 40, 6, 3)
    changed = stream.clone()
    changed[0, 0] += 1.0
    valid = torch.ones(1, 40, dtype=torch.bool)
    assert not torch.allclose(branch(stream, None, valid)[0, -1], branch(changed, None, valid)[0, -1])


def test_coarse_motion_lives_in_the_pca_basis():
    from histalk_bench.models.histalk.cmg import motion_basis

    rng = np.random.default_rng(0)
    latent = rng.normal(size=(200, 3))
    motion = latent @ rng.normal(size=(3, 90)) + 0.01 * rng.normal(size=(200, 90))
    mean, basis, explained = motion_basis(motion, 3)
    assert basis.shape == (3, 90) and explained > 0.99
    np.testing.assert_allclose(basis @ basis.T, np.eye(3), atol=1e-4)
    model = _randomise_heads(HiSTalk(_config(n_vertices=30, cmg_basis=3))).eval()
    model.cmg.set_basis(mean, basis)
    coarse = model(collate([_item(20)]))["coarse"][0].reshape(20, -1).detach().numpy() - mean
    residual = coarse - coarse @ basis.T @ basis
    assert np.abs(residual).max() < 1e-4 * max(1.0, np.abs(coarse).max())


def test_ablations_build_and_run():
    for overrides in ({"levels": ("frame", "word")}, {"use_cmg": False}, {"use_se_gate": False}, {"attention": "window"},
                      {"combine": "d_only"}, {"use_style": False}, {"levels": ("frame",)}, {"use_word_tokens": False}):
        model = HiSTalk(_config(**overrides)).eval()
        out = model(collate([_item(11)]))
        assert out["motion"].shape == (1, 11, 30, 3)
    assert "coarse" not in HiSTalk(_config(use_cmg=False))(collate([_item(5)]))
    with pytest.raises(ValueError):
        HiSTalk(_config(levels=("frame", "syllable")))


@pytest.mark.parametrize("overrides", [{}, {"levels": ("frame", "word")}, {"levels": ("phone", "utterance")},
                                       {"use_se_gate": False}, {"use_cmg": False}, {"combine": "joint"},
                                       {"attention": "window"}])
def test_every_parameter_gets_a_gradient(overrides):
    """DistributedDataParallel requires it: ablations must not leave unused modules behind."""
    model = _randomise_heads(HiSTalk(_config(**overrides)))
    batch = collate([_item(13), _item(8, seed=4)])
    out = model(batch)
    loss = sum(out[key].pow(2).mean() for key in ("motion", "sparse", "coarse") if key in out)
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing


def test_residual_loss_leaves_the_cmg_to_its_own_target():
    from histalk_bench.models.histalk.losses import histalk_loss

    batch = collate([_item(13)])
    grads = {}
    for combine in ("residual", "joint"):
        torch.manual_seed(0)
        config = _config(combine=combine, w_coarse=0.0, w_sparse=0.0)
        model = _randomise_heads(HiSTalk(config))
        loss, _ = histalk_loss(model(batch), batch["motion"], batch["sparse"], batch["mask"], config,
                               torch.tensor([0, 1]), torch.tensor([0]))
        loss.backward()
        grads[combine] = model.cmg.head.weight.grad
    assert grads["residual"] is None or grads["residual"].abs().max() == 0
    assert grads["joint"].abs().max() > 0


def test_unit_attention_stays_inside_the_enclosing_unit():
    from histalk_bench.models.histalk.hsf2s import HierarchicalSpeechToSparse
    from histalk_bench.models.histalk.layers import attention_mask

    groups = torch.tensor([[0, 0, 1, 1, 1, 2]])
    valid = torch.tensor([[True, True, True, True, False, True]])
    blocked = attention_mask(valid, None, 1, groups)[0]
    assert not blocked[2, 3] and blocked[2, 4] and blocked[1, 2] and not blocked[5, 5]
    spans = torch.tensor([[0, 0, 0, 1, 1, 1]])
    with_words = attention_mask(valid, None, 1, groups, spans, torch.tensor([[True, True]]))[0]  # 6 tokens + 2 word tokens
    assert not with_words[0, 6] and with_words[0, 7] and not with_words[6, 2] and with_words[6, 3]
    torch.manual_seed(0)
    hsf2s = HierarchicalSpeechToSparse(_config(attention="unit", use_word_tokens=False)).eval()
    batch = collate([_item(40)])
    x = torch.randn(1, batch["audio"].shape[1], 16)
    changed = x.clone()
    inside = batch["phone"][0] == 5
    changed[0, inside] += 1.0
    a, b = hsf2s(x, batch)["streams"]["frame"], hsf2s(changed, batch)["streams"]["frame"]
    assert not torch.allclose(a, b)
    assert torch.allclose(a[0, -5:], b[0, -5:])  # frames of other phones unaffected
    windowed = HierarchicalSpeechToSparse(_config(attention="window")).eval()
    assert windowed(x, batch)["streams"]["utterance"].shape == (1, 40, 6, 3)


@pytest.mark.slow
def test_training_is_deterministic_and_overfits_one_sequence(vocaset_cache, tmp_path):
    from histalk_bench.cache import Cache
    from histalk_bench.models.histalk.api import load_predictor, train

    with Cache(vocaset_cache) as cache:
        ref = cache.sequences("train")[0]
    subset = tmp_path / "one.h5"
    from histalk_bench.cache import CacheWriter

    with Cache(vocaset_cache) as cache:
        writer = CacheWriter(subset, dataset="vocaset", fps=30, n_vertices=cache.n_vertices)
        writer.set_templates({ref.subject: cache.template(ref.subject)})
        for name, ids in cache.regions().items():
            writer.set_region(name, ids, source="x", sha256="0" * 64)
        writer.set_landmark_map(*cache.landmark_map())
        writer.write_sequence(cache.read(ref.subject, ref.sentence))
        writer.finalize()
    options = dict(epochs=150, lr=3e-3, batch_size=1, progress=False, patience=0, dropout=0.0, d_model=32, save_every=50,
                   features="mel", stage_layers=[1, 1, 1, 1])
    train(subset, tmp_path / "a", **options)
    train(subset, tmp_path / "b", **{**options, "epochs": 3})
    train(subset, tmp_path / "c", **{**options, "epochs": 3})
    history = [json.loads(line) for line in (tmp_path / "a" / "history.jsonl").read_text().splitlines()]
    b = (tmp_path / "b" / "history.jsonl").read_text()
    assert b == (tmp_path / "c" / "history.jsonl").read_text()  # same seed, same losses
    with Cache(subset) as cache:
        predictor = load_predictor(cache, run_dir=tmp_path / "a", device="cpu")
        [prediction] = predictor.predict(cache, ref).values()
        gt = cache.vertices(ref.subject, ref.sentence)
        template = cache.template(ref.subject)
        lip = cache.regions()["lip"]
        lve = ((prediction - gt)[:, lip] ** 2).sum(-1).max(-1).mean()
        static_lve = ((template[None] - gt)[:, lip] ** 2).sum(-1).max(-1).mean()
    assert history[-1]["train_loss"] < 0.1 * history[0]["train_loss"]
    assert lve < 0.05 * static_lve  # near zero relative to no motion


def test_resume_continues_and_checkpoints_load_weights_only(vocaset_cache, tmp_path):
    from histalk_bench.models.histalk.api import train
    from histalk_bench.models.training import load_checkpoint

    options = dict(progress=False, d_model=16, patience=0, max_frames=30, features="mel", stage_layers=[1, 1, 1, 1])
    train(vocaset_cache, tmp_path / "run", epochs=2, **options)
    train(vocaset_cache, tmp_path / "run", epochs=4, resume=True, **options)
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert epochs == [0, 1, 2, 3]
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["epoch"] == 3 and "optimizer" in state
    from histalk_bench.common.errors import UserError

    with pytest.raises(UserError, match="not a readable checkpoint .UnpicklingError"):
        _unsafe_payload(tmp_path)  # a checkpoint holding code is refused (one line, not a traceback)


def _unsafe_payload(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    from histalk_bench.models.training import load_checkpoint

    return load_checkpoint(tmp_path / "evil.pt")


@pytest.mark.slow
def test_predict_cli_writes_predictions_for_unseen_speakers_per_condition(vocaset_cache, tmp_path):
    import subprocess
    import sys

    from histalk_bench.predict.store import PredictionReader

    run = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "train", "histalk", "--data", str(vocaset_cache),
                             "--out", str(run), "--epochs", "1", "--features", "mel", "--set", "d_model=16", "--set", "stage_layers=[1,1,1,1]",
                             "--quiet"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "pred.h5"
    result = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "predict", "--model", "histalk", "--run", str(run),
                             "--data", str(vocaset_cache), "--split", "test", "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "config.json").read_text())["task"]["histalk"]
    with PredictionReader(out) as reader:
        subject, sentence = reader.keys()[0]
        assert reader.conditions(subject, sentence) == sorted(config["speakers"])  # unseen test speaker
        assert reader.vertices(subject, sentence, config["speakers"][0]).shape[1:] == (config["n_vertices"], 3)
    bad = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "train", "histalk", "--data", str(vocaset_cache),
                          "--out", str(run), "--set", "nonsense=1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown histalk option" in bad.stderr


@pytest.mark.slow
def test_predict_from_a_new_audio_file(vocaset_cache, tmp_path):
    import subprocess
    import sys

    import soundfile

    from histalk_bench.cache import Cache
    from histalk_bench.models.histalk.api import train

    train(vocaset_cache, tmp_path / "run", epochs=1, progress=False, d_model=16, features="mel", stage_layers=[1, 1, 1, 1])
    with Cache(vocaset_cache) as cache:
        ref = cache.sequences("test")[0]
        soundfile.write(tmp_path / "new.wav", cache.audio(ref.subject, ref.sentence), 16000)
        n_vertices = cache.n_vertices
    out = tmp_path / "new.npy"
    command = [sys.executable, "-m", "histalk_bench.cli.main", "predict", "--model", "histalk", "--run", str(tmp_path / "run"),
               "--audio", str(tmp_path / "new.wav"), "--template", ref.subject, "--data", str(vocaset_cache), "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True)  # aligned units, no transcript: said
    assert result.returncode == 0 and "statistical windows" in result.stderr and "--transcript" in result.stderr
    windows = np.load(out)
    result = subprocess.run(command + ["--transcript", ref.transcript], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "forced alignment" in result.stderr and not np.allclose(np.load(out), windows)
    vertices = np.load(out)
    assert vertices.shape == (ref.n_frames, n_vertices * 3)

    # features computed on the fly equal the cached ones; other extractor settings are refused
    from histalk_bench.common.errors import UserError
    from histalk_bench.models.histalk.api import load_predictor

    with Cache(vocaset_cache) as cache:
        predictor = load_predictor(cache, run_dir=tmp_path / "run", device="cpu")
        assert predictor.config.extra["feature_config"]["name"] == "mel"
        computed, rate = predictor.extract(cache.audio(ref.subject, ref.sentence))
        cached, cached_rate = cache.feature(ref.subject, ref.sentence, "mel")
    assert rate == cached_rate and np.allclose(computed[:, 0], cached, atol=1e-4)
    predictor = load_predictor(None, run_dir=tmp_path / "run", device="cpu")
    predictor.config.extra["feature_config"]["n_mels"] = 40
    with pytest.raises(UserError, match="n_mels"):
        predictor.extract(np.zeros(16000, dtype=np.float32))


@pytest.mark.slow
def test_units_and_features_are_resolved_and_recorded(vocaset_corpus, vocaset_cache, tmp_path):
    import subprocess
    import sys

    from histalk_bench.datasets.prepare import prepare_vocaset
    from histalk_bench.models.histalk.api import train

    untiered = tmp_path / "none.h5"
    prepare_vocaset(vocaset_corpus, untiered, aligner="none", features="mel", progress=False)
    base = [sys.executable, "-m", "histalk_bench.cli.main", "train", "histalk", "--epochs", "1", "--quiet"]
    result = subprocess.run(base + ["--data", str(untiered), "--out", str(tmp_path / "a"), "--features", "mel",
                                    "--units", "aligned"], capture_output=True, text=True)
    assert result.returncode == 2 and str(untiered) in result.stderr and "prepare --aligner" in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr and not (tmp_path / "a").exists()
    result = subprocess.run(base + ["--data", str(vocaset_cache), "--out", str(tmp_path / "b")], capture_output=True, text=True)
    assert result.returncode == 2 and "wav2vec2" in result.stderr and "--features mel" in result.stderr  # paper default
    options = dict(epochs=1, progress=False, d_model=16, stage_layers=[1, 1, 1, 1], features="mel", max_frames=20)
    for cache, expected in ((untiered, "statistical"), (vocaset_cache, "aligned")):
        run = train(cache, tmp_path / f"auto_{expected}", **options)
        summary = json.loads((run / "summary.json").read_text())
        assert summary["units"] == expected and summary["units_requested"] == "auto"
        assert set(summary["mean_weights"]) >= {"fusion_utterance", "fusion_word", "fusion_sparse", "fusion_phone",
                                                "fusion_frame", "se_frame"}
        history = json.loads((run / "history.jsonl").read_text().splitlines()[-1])
        assert "train_fusion_word" in history and "train_se_utterance" in history
    from histalk_bench.cache import Cache
    from histalk_bench.common.errors import UserError
    from histalk_bench.models.histalk.api import load_predictor

    with Cache(untiered) as cache:  # a model on aligned units refuses a cache without tiers
        predictor = load_predictor(cache, run_dir=tmp_path / "auto_aligned", device="cpu")
        with pytest.raises(UserError, match="tiers"):
            predictor.predict(cache, cache.sequences("test")[0])


@pytest.mark.slow
def test_wav2vec2_default_computed_from_a_local_model(vocaset_cache, tmp_path):
    """The paper's input: without cached wav2vec2 features, --wav2vec2-model computes them."""
    from _features_helpers import save_tiny_wav2vec2

    from histalk_bench.cache import Cache
    from histalk_bench.models.histalk.api import load_predictor, train

    folder = save_tiny_wav2vec2(tmp_path / "w2v")
    run = train(vocaset_cache, tmp_path / "run", wav2vec2_model=str(folder), epochs=1, progress=False, d_model=16,
                stage_layers=[1, 1, 1, 1], max_frames=20)
    config = json.loads((run / "config.json").read_text())["task"]["histalk"]
    assert config["feature"] == "wav2vec2" and (config["feature_layers"], config["feature_dim"]) == (3, 32)
    with Cache(vocaset_cache) as cache:
        predictor = load_predictor(cache, run_dir=run, device="cpu", wav2vec2_model=str(folder))
        ref = cache.sequences("test")[0]
        [prediction, *_] = predictor.predict(cache, ref).values()
    assert prediction.shape == (ref.n_frames, cache.n_vertices, 3) and np.isfinite(prediction).all()


def test_bad_options_are_user_errors_before_any_work():
    from histalk_bench.common.errors import UserError
    from histalk_bench.models.histalk.api import _split_options

    train_options, config_options = _split_options({"epochs": 3, "lr": 1, "levels": ["frame", "word"], "use_cmg": False})
    assert train_options == {"epochs": 3, "lr": 1} and config_options["levels"] == ["frame", "word"]
    for bad, message in (({"d_model": "abc"}, "should be of type int"), ({"use_cmg": 1}, "type bool"),
                         ({"levels": ["frame", "syllable"]}, "levels"), ({"combine": "max"}, "combine"),
                         ({"attention": "global"}, "attention"), ({"nonsense": 1}, "unknown histalk option")):
        with pytest.raises(UserError, match=message):
            _split_options(bad)
