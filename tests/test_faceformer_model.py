"""FaceFormer: masks, positional encoding, zero-init output, long sequences, autoregressive
consistency, official checkpoint loading, wrong-dataset errors, and a short training run."""

import json

import pytest
import torch

from histalk_bench.common.errors import UserError
from histalk_bench.models.faceformer.checkpoint import rename_weight_norm
from histalk_bench.models.faceformer.masks import PeriodicPositionalEncoding, alibi_slopes, biased_causal_mask, memory_mask
from histalk_bench.models.faceformer.model import FaceFormer, FaceFormerConfig

torch.set_num_threads(1)


def _model(**overrides):
    torch.manual_seed(0)
    values = dict(n_vertices=20, speakers=("A", "B", "C"), d_model=16, period=30, audio_encoder="tiny")
    values.update(overrides)
    return FaceFormer(FaceFormerConfig(**values)).eval()


def test_alibi_slopes_and_bias_values():
    assert alibi_slopes(4).tolist() == [1 / 4, 1 / 16, 1 / 64, 1 / 256]
    mask = biased_causal_mask(4, 70, period=30)
    assert mask.shape == (4, 70, 70)
    assert torch.isinf(mask[0, 3, 4]) and mask[0, 3, 3] == 0
    assert mask[0, 40, 5] == -0.25 * ((40 - 5) // 30)
    assert mask[3, 69, 0] == -(1 / 256) * (69 // 30)


def test_memory_mask_for_one_and_two_tokens_per_frame():
    one = memory_mask(5, 5, 1)
    assert (~one).sum(1).tolist() == [1] * 5 and not one[2, 2]
    two = memory_mask(4, 8, 2)
    assert not two[1, 2] and not two[1, 3] and two[1, 1] and two[1, 4]


def test_periodic_encoding_repeats_and_extends_past_600():
    ppe = PeriodicPositionalEncoding(8, period=25, dropout=0.0)
    assert ppe.pe.shape == (1, 625, 8)
    torch.testing.assert_close(ppe.pe[0, 3], ppe.pe[0, 28])
    out = ppe(torch.zeros(1, 1000, 8))
    torch.testing.assert_close(out[0, 999], ppe.pe[0, 999 % 25])


@pytest.mark.slow
def test_untrained_model_predicts_the_template_and_handles_700_frames():
    model = _model()
    audio = torch.randn(1, 16000 * 24)  # 24 s of audio, 720 frames at 30 fps
    memory, usable = model.encode_audio(audio, 720)
    assert usable == 720 and memory.shape[:2] == (1, 720)
    out = model.forward_teacher_forced(memory, model.style(torch.tensor([1])), torch.randn(1, 720, 60))
    assert out.shape == (1, 720, 60) and out.abs().max() == 0  # zero-initialised output map


def test_autoregressive_equals_teacher_forcing_on_its_own_outputs():
    model = _model()
    torch.nn.init.normal_(model.vertice_map_r.weight, std=0.1)
    audio = torch.randn(1, 16000)
    memory, usable = model.encode_audio(audio, 12)
    style = model.style(torch.tensor([2]))
    with torch.no_grad():
        generated = model.forward_autoregressive(memory, style, usable)
        replay = model.forward_teacher_forced(memory, style, generated)
    torch.testing.assert_close(generated, replay, rtol=1e-4, atol=1e-5)


def test_biwi_uses_two_audio_tokens_per_frame():
    model = _model(period=25, tokens_per_frame=2, fps=25.0)
    memory, usable = model.encode_audio(torch.randn(1, 16000), 25)
    assert memory.shape[1] % 2 == 0 and usable == min(25, memory.shape[1] // 2)


def _official_like_state(model: FaceFormer) -> dict:
    """A state dict with exactly the official names, old weight-norm keys included."""
    state = {}
    for key, value in model.state_dict().items():
        key = key.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v")
        state[key] = value.clone()
    return state


def test_official_checkpoint_loads_with_renamed_weight_norm(tmp_path, vocaset_cache):
    from histalk_bench.cache import Cache
    from histalk_bench.models.faceformer.api import load_predictor

    with Cache(vocaset_cache) as cache:
        n_vertices = cache.n_vertices
        source = _model(n_vertices=n_vertices, speakers=tuple(f"s{i}" for i in range(8)), d_model=64)
        torch.nn.init.normal_(source.vertice_map_r.weight, std=0.01)
        state = _official_like_state(source)
        assert any(k.endswith("weight_g") for k in state) and "PPE.pe" in state
        assert state["PPE.pe"].shape == (1, 630, 64)
        torch.save(state, tmp_path / "vocaset.pth")
        predictor = load_predictor(cache, checkpoint=tmp_path / "vocaset.pth", device="cpu")
        assert predictor.config.d_model == 64 and len(predictor.config.speakers) == 8
        assert predictor.config.speakers[0] == "FaceTalk_170728_03272_TA"  # the protocol's one-hot order
        for key, value in rename_weight_norm(state).items():
            torch.testing.assert_close(predictor.model.state_dict()[key], value)
        ref = cache.sequences("test")[0]
        out = predictor.predict(cache, ref)
        n_official = predictor.model.frames_for_audio(len(cache.audio(ref.subject, ref.sentence)))
        assert len(out) == 8 and next(iter(out.values())).shape == (n_official, n_vertices, 3)

        wrong = _official_like_state(_model(n_vertices=n_vertices + 1, speakers=tuple("abcdef"), d_model=16, period=25))
        torch.save(wrong, tmp_path / "biwi.pth")
        with pytest.raises(UserError, match="wrong dataset"):
            load_predictor(cache, checkpoint=tmp_path / "biwi.pth", device="cpu")
        del state["vertice_map.weight"]
        torch.save(state, tmp_path / "broken.pth")
        with pytest.raises(UserError, match="not a FaceFormer checkpoint"):
            load_predictor(cache, checkpoint=tmp_path / "broken.pth", device="cpu")


def test_short_training_lowers_the_loss(vocaset_cache, tmp_path):
    from histalk_bench.models.faceformer.api import train

    train(vocaset_cache, tmp_path / "run", epochs=3, lr=1e-3, teacher_forcing=True, progress=False, d_model=16,
          audio_encoder="tiny")
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["task"]["faceformer"]["speakers"][0] == "FaceTalk_170728_03272_TA"  # FIELD.md one-hot order


def test_biwi_audio_tokens_are_cut_to_two_per_frame():
    model = _model(period=25, tokens_per_frame=2, fps=25.0)
    memory, usable = model.encode_audio(torch.randn(1, 16000), 10)  # ~49 tokens of audio, 10 frames
    assert usable == 10 and memory.shape[1] == 20


def test_time_masking_only_in_training():
    model = _model()
    audio = torch.randn(1, 16000 * 2)
    with torch.no_grad():
        first, _ = model.encode_audio(audio, 60)
        second, _ = model.encode_audio(audio, 60)
        torch.testing.assert_close(first, second)  # eval: deterministic, no masking
    hidden = torch.randn(1, 200, model.audio_encoder.config.hidden_size)
    model.train()
    torch.manual_seed(1)
    masked = model._spec_augment(hidden.clone())
    changed = (masked != hidden).any(-1)[0]
    assert 0 < int(changed.sum()) < 200  # some time steps replaced by masked_spec_embed
    torch.testing.assert_close(masked[0, changed][0], model.audio_encoder.masked_spec_embed.detach())


def test_parameter_count_at_vocaset_size():
    model = _model(n_vertices=5023, d_model=64)
    n_params = sum(p.numel() for p in model.parameters())
    assert 1_000_000 < n_params < 3_000_000  # tiny encoder; the vertex maps dominate (2 x 15069 x 64)


@pytest.mark.parametrize("biwi", [False, True])
def test_cached_decoding_equals_the_full_recompute_loop(biwi):
    """generate() (cached keys/values, conditions batched over one audio memory) against the
    official loop that re-decodes the whole prefix at every frame."""
    model = _model(**(dict(period=25, tokens_per_frame=2, fps=25.0) if biwi else {}))
    torch.nn.init.normal_(model.vertice_map_r.weight, std=0.1)
    torch.nn.init.normal_(model.vertice_map_r.bias, std=0.1)
    with torch.no_grad():
        memory, usable = model.encode_audio(torch.randn(1, 16000 * 2))
        style = model.style(torch.tensor([0, 1, 2]))
        steps = []
        cached = model.generate(memory, style, usable, on_step=steps.append)
        for condition in range(3):
            full = model.forward_autoregressive(memory, style[condition:condition + 1], usable)
            torch.testing.assert_close(cached[condition:condition + 1], full, rtol=0, atol=1e-5)
    assert steps == list(range(1, usable + 1)) and usable == (49 if biwi else 59)
    assert cached[0].abs().max() > 0.1 and not torch.allclose(cached[0], cached[1])


def test_paper_configuration_is_the_default_and_missing_weights_say_what_to_download(vocaset_cache, tmp_path):
    import inspect

    from histalk_bench.models.faceformer import api

    defaults = {k: v.default for k, v in inspect.signature(api.train).parameters.items() if v.default is not v.empty}
    assert defaults["audio_encoder"] == "base" and defaults["teacher_forcing"] is False
    options = api._train_options({})
    assert (options.epochs, options.lr, options.patience, options.batch_size, options.grad_clip) == (100, 1e-4, 0, 1, 0.0)
    with pytest.raises(UserError) as error:
        api.train(vocaset_cache, tmp_path / "run", wav2vec2_model="nobody/not-downloaded-wav2vec2", progress=False)
    message = str(error.value)
    assert "\n" not in message and "hf download nobody/not-downloaded-wav2vec2 --local-dir" in message
    assert "--set audio_encoder=tiny is the CPU demo configuration" in message and not (tmp_path / "run").exists()
    from histalk_bench.models.runs import train_run

    with pytest.raises(UserError, match="^--features does not apply: faceformer encodes raw audio; drop it$"):
        train_run("faceformer", vocaset_cache, tmp_path / "run", {"features": "mel", "audio_encoder": "tiny"})


def test_pretrained_encoder_from_a_folder_is_loaded_with_its_cnn_frozen(vocaset_cache, tmp_path):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    from histalk_bench.models.faceformer.api import train
    from histalk_bench.models.faceformer.model import TINY_ENCODER
    from histalk_bench.models.training import load_checkpoint

    torch.manual_seed(3)
    Wav2Vec2Model(Wav2Vec2Config(**TINY_ENCODER)).save_pretrained(tmp_path / "w2v")
    saved = Wav2Vec2Model.from_pretrained(tmp_path / "w2v").state_dict()
    run = train(vocaset_cache, tmp_path / "run", wav2vec2_model=str(tmp_path / "w2v"), epochs=1, lr=1e-3,
                teacher_forcing=True, progress=False, d_model=8)
    config = json.loads((run / "config.json").read_text())["task"]["faceformer"]
    assert config["audio_encoder"] == "base" and config["wav2vec2_model"] == str(tmp_path / "w2v")
    assert len(config["wav2vec2_weights"]) == 16  # fingerprint of the folder's weights
    trained = load_checkpoint(run / "last.pt")["model"]
    cnn = [k for k in saved if k.startswith("feature_extractor.")]
    assert cnn and all(torch.equal(trained["audio_encoder." + k], saved[k]) for k in cnn)  # frozen
    assert not torch.equal(trained["audio_encoder.encoder.layers.0.attention.q_proj.weight"],
                           saved["encoder.layers.0.attention.q_proj.weight"])  # fine-tuned


def test_validation_of_unseen_subject_averages_every_condition():
    from histalk_bench.models.faceformer.api import FaceFormerTask

    model = _model()
    torch.nn.init.normal_(model.vertice_map_r.weight, std=0.1)
    task = FaceFormerTask(model, lip_ids=None)
    batch = {"audio": torch.randn(1, 8000), "motion": torch.randn(1, 8, 60), "speaker": torch.tensor([-1])}
    with torch.no_grad():
        unseen = task.validate(model, batch)["loss"]
        each = [task.validate(model, {**batch, "speaker": torch.tensor([i])})["loss"] for i in range(3)]
    assert len(set(each)) == 3
    assert abs(unseen - sum(each) / 3) < 1e-6
    model.config.teacher_forcing = True
    with torch.no_grad():
        unseen = task.validate(model, batch)["loss"]
        each = [task.validate(model, {**batch, "speaker": torch.tensor([i])})["loss"] for i in range(3)]
    assert abs(unseen - sum(each) / 3) < 1e-6


def test_prediction_uses_the_final_epoch_unless_the_run_selects_the_best(vocaset_cache, tmp_path):
    from histalk_bench.cache import Cache
    from histalk_bench.models.faceformer.api import load_model, load_predictor, train
    from histalk_bench.models.training import load_checkpoint

    last = train(vocaset_cache, tmp_path / "last", epochs=2, lr=1e-2, teacher_forcing=True, progress=False, d_model=8,
                 audio_encoder="tiny", save_every=1)
    best = train(vocaset_cache, tmp_path / "best", epochs=2, lr=1e-2, teacher_forcing=True, progress=False, d_model=8,
                 audio_encoder="tiny", select="best")
    final = load_checkpoint(last / "last.pt")["model"]
    model = load_model(run_dir=last)
    assert model.source == {"weights": "last.pt", "epoch": 1}
    assert all(torch.equal(model.state_dict()[k], v) for k, v in final.items())
    assert load_model(run_dir=best).source["weights"] == "best.pt"
    with pytest.raises(UserError, match="select must be"):
        train(vocaset_cache, tmp_path / "x", select="middle", audio_encoder="tiny")
    with Cache(vocaset_cache) as cache:
        assert load_predictor(cache, run_dir=last, device="cpu").settings["epoch"] == 1
        # the predictions' provenance digests the file the weights really came from
        from histalk_bench.cache import file_sha256
        from histalk_bench.predict.split import prediction_provenance

        for run, used in ((last, "last.pt"), (best, "best.pt")):
            recorded = prediction_provenance("faceformer", cache, "test", run_dir=run)
            assert recorded["checkpoint"] == str((run / used).absolute())
            assert recorded["checkpoint_sha256"] == file_sha256(run / used)


def test_run_checkpoint_loads_by_run_dir_and_as_checkpoint(vocaset_cache, tmp_path):
    from histalk_bench.cache import Cache
    from histalk_bench.models.faceformer.api import load_predictor, train

    run = train(vocaset_cache, tmp_path / "run", epochs=1, teacher_forcing=True, progress=False, d_model=8,
                audio_encoder="tiny")
    with Cache(vocaset_cache) as cache:
        by_run = load_predictor(cache, run_dir=run, device="cpu")
        by_file = load_predictor(cache, checkpoint=run / "best.pt", device="cpu")
        assert by_run.config.speakers == by_file.config.speakers  # the run's subjects, not placeholder names
        assert set(by_file.config.speakers) == set(cache.subjects("train"))
        assert by_file.config.encoder_config["hidden_size"] == 32
        ref = cache.sequences("val")[0]
        assert by_run.settings["weights"] == "last.pt" and by_run.settings["epoch"] == 0  # the final epoch, as the paper
        assert by_file.settings["weights"] == "best.pt"
        a, b = by_run.predict(cache, ref), by_file.predict(cache, ref)
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(torch.from_numpy(a[key]), torch.from_numpy(b[key]))


@pytest.mark.slow
def test_base_sized_official_state_dict_loads(tmp_path):
    """Official vocaset.pth layout: wav2vec2-base encoder (old weight_g/weight_v keys), d=64, V=5023."""
    from transformers import Wav2Vec2Config

    from histalk_bench.models.faceformer.api import load_model

    torch.manual_seed(0)
    source = FaceFormer(FaceFormerConfig(n_vertices=5023, speakers=tuple(f"s{i}" for i in range(8)), d_model=64,
                                         encoder_config=Wav2Vec2Config().to_diff_dict() | {"hidden_size": 768}))
    state = _official_like_state(source)
    assert "audio_encoder.encoder.pos_conv_embed.conv.weight_g" in state and state["PPE.pe"].shape == (1, 630, 64)
    torch.save(state, tmp_path / "vocaset.pth")
    model = load_model(checkpoint=tmp_path / "vocaset.pth")
    encoder = model.audio_encoder.config
    assert (encoder.hidden_size, encoder.num_hidden_layers, encoder.num_attention_heads) == (768, 12, 12)
    assert model.config.d_model == 64 and model.config.n_vertices == 5023 and model.config.period == 30
    torch.testing.assert_close(model.state_dict()["audio_encoder.encoder.pos_conv_embed.conv.parametrizations.weight.original1"],
                               state["audio_encoder.encoder.pos_conv_embed.conv.weight_v"])


def test_frame_count_for_audio_alone_follows_the_original():
    voca, biwi = _model(), _model(period=25, tokens_per_frame=2, fps=25.0)
    n_cnn = (16000 * 3 - 400) // 320 + 1  # 149 features at 50 Hz
    assert voca.frames_for_audio(16000 * 3) == int(n_cnn / 50 * 30) == 89
    assert biwi.frames_for_audio(16000 * 3) == n_cnn // 2 == 74
