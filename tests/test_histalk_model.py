"""HiSTalk: shapes, masking, gates, fusion, determinism, overfitting, checkpoints and prediction."""

import json
import pickle

import numpy as np
import pytest
import torch

from histalk_bench.align.units import hierarchy
from histalk_bench.models.data import collate
from histalk_bench.models.histalk.config import HiSTalkConfig
from histalk_bench.models.histalk.model import HiSTalk

torch.set_num_threads(1)


def _config(**overrides):
    values = dict(n_vertices=30, n_landmarks=6, feature_layers=3, feature_dim=8, d_model=16, n_heads=2,
                  speakers=("A", "B"), dropout=0.0)
    values.update(overrides)
    return HiSTalkConfig(**values)


def _item(n_frames, seed=0, fps=30.0):
    rng = np.random.default_rng(seed)
    words = [(0.1 * i, 0.1 * i + 0.08, f"w{i}") for i in range(int(n_frames / fps / 0.1) + 1)]
    phones = [(0.03 * i, 0.03 * i + 0.03, "p") for i in range(int(n_frames / fps / 0.03) + 1)]
    return {"audio": rng.normal(size=(n_frames, 3, 8)).astype(np.float32), "key": f"k{n_frames}", "speaker": 0,
            **hierarchy(n_frames, fps, phones, words), "motion": rng.normal(size=(n_frames, 30, 3)).astype(np.float32),
            "sparse": rng.normal(size=(n_frames, 6, 3)).astype(np.float32)}


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
    model = HiSTalk(_config()).eval()
    short, long = _item(9, seed=1), _item(40, seed=2)
    alone = model(collate([short]))["motion"][0]
    batched = model(collate([short, long]))
    torch.testing.assert_close(batched["motion"][0, :9], alone, rtol=1e-5, atol=1e-6)
    assert batched["motion"][0, 9:].abs().max() == 0


def test_gates_in_open_unit_interval_and_fusion_weights_sum_to_one():
    model = HiSTalk(_config()).eval()
    out = model(collate([_item(25), _item(12, seed=3)]))
    for gate in out["gates"].values():
        assert ((gate > 0) & (gate < 1)).all()
    assert out["fusion"].shape[-1] == 5  # utterance, word, phone, frame, sparse
    torch.testing.assert_close(out["fusion"].sum(-1), torch.ones(out["fusion"].shape[:2]))


def test_ablations_build_and_run():
    for overrides in ({"levels": ("frame", "word")}, {"use_cmg": False}, {"use_se_gate": False}, {"attention": "window"},
                      {"combine": "d_only"}, {"use_style": False}):
        model = HiSTalk(_config(**overrides)).eval()
        out = model(collate([_item(11)]))
        assert out["motion"].shape == (1, 11, 30, 3)
    assert "coarse" not in HiSTalk(_config(use_cmg=False))(collate([_item(5)]))
    with pytest.raises(ValueError):
        HiSTalk(_config(levels=("frame", "syllable")))


@pytest.mark.parametrize("overrides", [{}, {"levels": ("frame", "word")}, {"levels": ("phone", "utterance")},
                                       {"use_se_gate": False}, {"use_cmg": False}, {"combine": "sum_detached"},
                                       {"attention": "window"}])
def test_every_parameter_gets_a_gradient(overrides):
    """DistributedDataParallel requires it: ablations must not leave unused modules behind."""
    model = HiSTalk(_config(**overrides))
    batch = collate([_item(13), _item(8, seed=4)])
    out = model(batch)
    loss = sum(out[key].pow(2).mean() for key in ("motion", "sparse", "coarse") if key in out)
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing


def test_unit_attention_stays_inside_the_enclosing_unit():
    from histalk_bench.models.histalk.hsf2s import HierarchicalSpeechToSparse
    from histalk_bench.models.histalk.layers import attention_mask

    groups = torch.tensor([[0, 0, 1, 1, 1, 2]])
    valid = torch.tensor([[True, True, True, True, False, True]])
    blocked = attention_mask(valid, None, 1, groups)[0]
    assert not blocked[2, 3] and blocked[2, 4] and blocked[1, 2] and not blocked[5, 5]
    torch.manual_seed(0)
    hsf2s = HierarchicalSpeechToSparse(_config(attention="unit")).eval()
    item = _item(40)
    batch = collate([item])
    units = {k: batch[k] for k in ("phone", "word", "utterance")}
    x = torch.randn(1, 40, 16)
    changed = x.clone()
    inside = units["phone"][0] == 5
    changed[0, inside] += 1.0
    a, b = hsf2s(x, batch["mask"], units)["features"], hsf2s(changed, batch["mask"], units)["features"]
    torch.testing.assert_close(a["frame"][0, ~inside], b["frame"][0, ~inside])  # other phones unaffected
    same_word = units["word"][0] == units["word"][0, inside][0]
    torch.testing.assert_close(a["phone"][0, ~same_word], b["phone"][0, ~same_word])  # other words unaffected
    assert not torch.allclose(a["frame"][0, inside], b["frame"][0, inside])
    windowed = HierarchicalSpeechToSparse(_config(attention="window")).eval()
    assert windowed(x, batch["mask"], units)["sparse"].shape == (1, 40, 6, 3)


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
    options = dict(epochs=150, lr=3e-3, batch_size=1, progress=False, patience=0, dropout=0.0, d_model=32, save_every=50)
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

    options = dict(progress=False, d_model=16, patience=0, max_frames=30)
    train(vocaset_cache, tmp_path / "run", epochs=2, **options)
    train(vocaset_cache, tmp_path / "run", epochs=4, resume=True, **options)
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert epochs == [0, 1, 2, 3]
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["epoch"] == 3 and "optimizer" in state
    with pytest.raises(pickle.UnpicklingError):
        _unsafe_payload(tmp_path)  # a checkpoint holding code is refused


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
                             "--out", str(run), "--epochs", "1", "--features", "mel", "--set", "d_model=16", "--quiet"],
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

    train(vocaset_cache, tmp_path / "run", epochs=1, progress=False, d_model=16)
    with Cache(vocaset_cache) as cache:
        ref = cache.sequences("test")[0]
        soundfile.write(tmp_path / "new.wav", cache.audio(ref.subject, ref.sentence), 16000)
        n_vertices = cache.n_vertices
    out = tmp_path / "new.npy"
    result = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "predict", "--model", "histalk", "--run",
                             str(tmp_path / "run"), "--audio", str(tmp_path / "new.wav"), "--template", ref.subject,
                             "--data", str(vocaset_cache), "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
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
