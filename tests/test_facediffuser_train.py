"""Training FaceDiffuser through the shared loop: the demo size on the synthetic corpus, resumable,
and its run predicts (seeded) through the same predictor as the official files."""

import json

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.mark.slow
def test_demo_run_trains_and_predicts_seeded(vocaset_cache, tmp_path):
    from histalk_bench.cache import Cache
    from histalk_bench.models.base import model_entry
    from histalk_bench.models.training import load_checkpoint

    entry = model_entry("facediffuser")
    run = entry.train(vocaset_cache, tmp_path / "run", size="demo", latent_dim=16, diffusion_steps=6, epochs=2,
                      progress=False, device="cpu")
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [0, 1] and all(np.isfinite(h["val_loss"]) for h in history)
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["lr"] == 1e-4 and config["train"]["batch_size"] == 1 and config["train"]["patience"] == 0
    settings = config["task"]["facediffuser"]
    assert (settings["latent_dim"], settings["diffusion_steps"], settings["audio_encoder"]) == (16, 6, "tiny")
    # the official test loads the final epoch: the run predicts from RUN/last.pt
    assert entry.weights_path(run) == run / "last.pt"
    assert load_checkpoint(run / "last.pt")["epoch"] == 1
    with Cache(vocaset_cache) as cache:
        ref = cache.sequences("test")[0]
        outs = [entry.load_predictor(cache, run_dir=run, device="cpu", seed=s).predict(cache, ref) for s in (3, 3, 4)]
    speakers = settings["speakers"]
    assert sorted(outs[0]) == sorted(speakers)  # unseen subject: one prediction per training speaker
    first = outs[0][speakers[0]]
    assert first.shape == (int(len(cache.audio(ref.subject, ref.sentence)) / 16000 * 30) - 1, cache.n_vertices, 3)
    assert np.array_equal(first, outs[1][speakers[0]]) and not np.array_equal(first, outs[2][speakers[0]])


@pytest.mark.parametrize("options, message", [
    ({"features": "mel"}, "--features does not apply"),
    ({"size": "huge"}, "size must be 'paper' or 'demo'"),
    ({"batch_size": 4}, "batch size 1"),
    ({"size": "demo", "hubert_model": "x"}, "hubert_model gives pretrained weights for audio_encoder=base"),
    ({"colour": "red"}, "unknown facediffuser option"),
])
def test_bad_training_options_are_refused(vocaset_cache, tmp_path, options, message):
    from histalk_bench.common.errors import UserError
    from histalk_bench.models.base import model_entry

    with pytest.raises(UserError, match=message):
        model_entry("facediffuser").train(vocaset_cache, tmp_path / "run", **options)


def test_paper_size_without_hubert_weights_says_how_to_get_them(vocaset_cache, tmp_path, monkeypatch):
    from histalk_bench.common.errors import UserError
    from histalk_bench.models.base import model_entry

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(UserError, match="hf download facebook/hubert-base-ls960"):
        model_entry("facediffuser").train(vocaset_cache, tmp_path / "run", epochs=1, progress=False)
