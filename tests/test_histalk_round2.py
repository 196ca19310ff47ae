"""HiSTalk round 2 (issue 21): statistics from every speaker, the two HSF2S configurations and
SpeechFormer++'s layer details, the fair frame-only model, level shares, a coarse CMG, and
options the configuration would not read refused."""

import numpy as np
import pytest
import torch

from histalk_bench.common.errors import UserError
from histalk_bench.models.data import collate
from histalk_bench.models.histalk.config import HiSTalkConfig
from histalk_bench.models.histalk.model import HiSTalk

torch.set_num_threads(1)


def _config(**overrides):
    values = dict(n_vertices=30, n_landmarks=6, feature_layers=3, feature_dim=8, d_model=16, n_heads=2,
                  speakers=("A", "B"), dropout=0.0, stage_layers=(1, 1, 1, 1), feature="mel")
    values.update(overrides)
    return HiSTalkConfig(**values)


def _item(n_frames, seed=0, fps=30.0, units="aligned"):
    from test_histalk_model import _item as item

    return item(n_frames, seed, fps, units)


def _tiny_cache(path, speakers, per_speaker, offset, missing_tiers=()):
    """A real cache: speaker s's features are constant ``offset[s]`` and its lip vertex moves with
    amplitude s + 1; ``missing_tiers``: (subject, sentence) keys written without tiers."""
    from histalk_bench.cache import CacheWriter
    from histalk_bench.cache.schema import SequenceData

    writer = CacheWriter(path, dataset="synthetic", fps=30, n_vertices=4)
    writer.set_templates({s: np.zeros((4, 3), np.float32) for s in speakers})
    writer.set_region("lip", np.array([0]), source="test", sha256="0" * 64)
    writer.set_landmark_map(np.array([0, 1]), np.ones(2))
    for index, subject in enumerate(speakers):
        for k in range(per_speaker):
            vertices = np.zeros((15, 4, 3), np.float32)
            vertices[:, 0, 1] = (index + 1) * np.sin(np.arange(15) / 3.0)
            sentence = f"sentence{k:02d}"
            tiers = (subject, sentence) not in missing_tiers
            writer.write_sequence(SequenceData(
                subject=subject, sentence=sentence, vertices=vertices, audio=np.zeros(8000, np.float32), split="train",
                phones=[(0.0, 0.25, "a"), (0.25, 0.5, "b")] if tiers else None,
                words=[(0.0, 0.5, "ab")] if tiers else None,
                features={"mel": (np.full((50, 2), offset[index], np.float32), 100.0)}))
    writer.finalize()
    return path


def test_statistics_come_from_every_training_speaker(tmp_path):
    """30 sequences per speaker, features 0 / 10 / 20 by speaker: the first 24 sequences of the
    sorted list are one speaker, yet the mean must be the all-speaker mean (10)."""
    from histalk_bench.cache import Cache
    from histalk_bench.models.histalk.train import data_statistics

    path = _tiny_cache(tmp_path / "c.h5", ["A", "B", "C"], 30, [0.0, 10.0, 20.0])
    with Cache(path) as cache:
        refs = sorted(cache.sequences("train"), key=lambda r: (r.subject, r.sentence))
        stats = data_statistics(cache, refs, lambda ref: cache.feature(ref.subject, ref.sentence, "mel")[0])
    np.testing.assert_allclose(stats["mean"], [10.0, 10.0], atol=0.5)
    all_rms = np.sqrt(np.mean([(a * np.sin(np.arange(15) / 3.0)) ** 2 for a in (1, 2, 3)]) / 3)  # lip RMS, 3 coords
    assert abs(stats["scale"] - all_rms) < 0.05 * all_rms
    assert set(stats["sample"]["per_speaker"]) == {"A", "B", "C"}


def test_auto_units_say_which_and_why(tmp_path):
    from histalk_bench.cache import Cache
    from histalk_bench.models.histalk.train import resolve_cache_units

    path = _tiny_cache(tmp_path / "c.h5", ["A"], 3, [0.0], missing_tiers={("A", "sentence01")})
    with Cache(path) as cache:
        units, reason = resolve_cache_units(cache, "auto")
    assert units == "statistical" and "1 of 3" in reason and "sentence01" in reason


def test_word_tokens_are_updated_before_the_tokens_read_them():
    """One layer, every token its own group: a change in token 0 reaches token 3 (same span) only
    through the word token, which must already carry the change within that layer."""
    from histalk_bench.models.histalk.layers import LocalEncoder

    torch.manual_seed(0)
    encoder = LocalEncoder(8, 2, 1, 8, 0.0, None).eval()
    x = torch.randn(1, 6, 8)
    changed = x.clone()
    changed[0, 0] += 2.0
    valid = torch.ones(1, 6, dtype=torch.bool)
    groups = torch.arange(6)[None]
    spans = torch.tensor([[0, 0, 0, 0, 1, 1]])
    words = torch.randn(8).expand(1, 2, -1)
    a, _ = encoder(x, valid, groups, words, spans, torch.ones(1, 2, dtype=torch.bool))
    b, _ = encoder(changed, valid, groups, words, spans, torch.ones(1, 2, dtype=torch.bool))
    assert not torch.allclose(a[0, 3], b[0, 3])
    torch.testing.assert_close(a[0, 4:], b[0, 4:])  # the other span is untouched


def test_word_stage_attention_reaches_past_the_word_token_span():
    """Aligned units, unit attention: words attend within +-word_window words, not only inside the
    ~1 s chunk their word token spans (else the tokens would add nothing at that stage)."""
    from histalk_bench.models.histalk.hsf2s import HierarchicalSpeechToSparse

    batch = collate([_item(60)])
    word, chunk = batch["word"][0], batch["utterance"][0]
    last = int(word[chunk == 0].max())  # last word of chunk 0, first of chunk 1 next to it
    x = torch.randn(1, word.shape[0], 16)
    changed = x.clone()
    changed[0, word == last] += 1.0
    torch.manual_seed(0)
    hsf2s = HierarchicalSpeechToSparse(_config(levels=("word",), use_word_tokens=False)).eval()
    a, b = hsf2s._hidden(x, batch)["word"], hsf2s._hidden(changed, batch)["word"]  # at the acoustic rate
    next_chunk = word == last + 1
    assert bool((chunk[next_chunk] == 1).all()) and not torch.allclose(a[0, next_chunk], b[0, next_chunk])
    far = chunk == int(chunk.max())  # beyond the window: untouched
    assert int(word[far].min()) - last > hsf2s.stages["word"].window
    torch.testing.assert_close(a[0, far], b[0, far])


def test_merge_blocks_project_and_normalise():
    from histalk_bench.models.histalk.hsf2s import HierarchicalSpeechToSparse
    from histalk_bench.models.histalk.layers import MergeBlock

    hsf2s = HierarchicalSpeechToSparse(_config())
    assert set(hsf2s.merges) == {"phone", "word", "utterance"}
    merge = MergeBlock(16)
    x = torch.randn(1, 10, 16) * 50 + 7
    units = torch.tensor([[0, 0, 1, 1, 1, 2, 2, 2, 2, 2]])
    tokens, token_valid, _ = merge(x, units, torch.ones(1, 10, dtype=torch.bool))
    assert tokens.shape == (1, 3, 16) and token_valid.all()
    torch.testing.assert_close(tokens.mean(-1), torch.zeros(1, 3), atol=1e-5, rtol=0)  # LayerNorm at init
    torch.testing.assert_close(tokens.std(-1, unbiased=False), torch.ones(1, 3), atol=1e-3, rtol=0)


def test_two_named_hsf2s_configurations():
    from histalk_bench.models.histalk.api import _split_options
    from histalk_bench.models.histalk.hsf2s import stage_attention

    _, options = _split_options({"hsf2s": "speechformer"})
    paper = HiSTalkConfig.from_dict(options)
    assert stage_attention(paper) == {"frame": (1, False), "phone": (5, False), "word": (4, False), "utterance": (None, False)}
    assert stage_attention(HiSTalkConfig()) == {"frame": (None, True), "phone": (None, True), "word": (4, False),
                                                "utterance": (None, False)}
    with pytest.raises(UserError, match="hsf2s=speechformer"):
        _split_options({"units": "statistical"})
    for key, value in (("units", "aligned"), ("attention", "window")):
        with pytest.raises(UserError, match=f"{key} refused"):
            _split_options({"hsf2s": "speechformer", key: value})
    with pytest.raises(UserError, match="hsf2s"):
        _split_options({"hsf2s": "paper"})


def test_speechformer_configuration_runs_on_statistical_units():
    torch.manual_seed(0)
    model = HiSTalk(_config(hsf2s="speechformer")).eval()
    out = model(collate([_item(40, units="statistical")]))
    assert out["motion"].shape == (1, 40, 30, 3) and torch.isfinite(out["motion"]).all()


def test_frame_only_is_a_fair_single_level_model():
    from histalk_bench.models.histalk.train import match_frame_only, parameter_count

    config = _config(n_vertices=30)
    matched = match_frame_only(_config(levels=("frame",)))
    frame_only = HiSTalk(_config(levels=("frame",), frame_only_layers=matched["frame_only_layers"],
                                 frame_only_s2d_layers=matched["frame_only_s2d_layers"])).eval()
    full = HiSTalk(config)
    assert abs(parameter_count(frame_only) - parameter_count(full)) <= 0.1 * parameter_count(full)
    assert frame_only.branch_names == ("frame",)  # S = F_f: one branch per distinct input
    assert frame_only.hsf2s.word_token is None and not frame_only.hsf2s.merges
    # no unit grouping: a change at the first frame reaches the last
    batch = collate([_item(30)])
    x = torch.randn(1, batch["audio"].shape[1], 16)
    changed = x.clone()
    changed[0, 0] += 1.0
    a, b = frame_only.hsf2s(x, batch)["hidden"]["frame"], frame_only.hsf2s(changed, batch)["hidden"]["frame"]
    assert not torch.allclose(a[0, -1], b[0, -1])


def test_level_shares_measure_each_level_in_s():
    from histalk_bench.models.histalk.train import mechanism_means

    torch.manual_seed(0)
    model = HiSTalk(_config()).eval()
    batch = collate([_item(20)])
    before = mechanism_means(model(batch), batch["mask"], model)
    assert abs(sum(before[f"share_{level}"] for level in ("frame", "phone", "word", "utterance")) - 1) < 1e-5
    with torch.no_grad():  # a head that scales its stream up takes a larger share at equal SE weights
        model.hsf2s.heads["word"].weight.mul_(10)
        model.hsf2s.heads["word"].bias.mul_(10)
        model.weights.excite[-1].weight.zero_()
        model.weights.excite[-1].bias.zero_()
    after = mechanism_means(model(batch), batch["mask"], model)
    assert abs(after["se_word"] - 0.25) < 1e-6 and after["share_word"] > 0.7


def test_cmg_is_coarse_in_time_and_rank():
    from histalk_bench.models.histalk.cmg import (
        choose_rank,
        gaussian_kernel,
        low_pass,
        low_pass_array,
    )

    assert choose_rank(np.array([0.6, 0.25, 0.1, 0.05]), 0.9, 8) == 3
    assert choose_rank(np.array([0.6, 0.25, 0.1, 0.05]), 0.9, 2) == 2
    taps = gaussian_kernel(2.0, 30.0)
    alternating = np.tile([1.0, -1.0], 20)[:, None]
    assert np.abs(low_pass_array(alternating, taps)[5:-5]).max() < 0.01
    np.testing.assert_allclose(low_pass_array(np.ones((12, 2)), taps), 1.0)
    valid = torch.ones(1, 40, dtype=torch.bool)
    smoothed = low_pass(torch.from_numpy(alternating[None]).float(), valid, torch.from_numpy(taps))
    assert smoothed[0, 5:-5].abs().max() < 0.01
    torch.manual_seed(0)  # the model's C: fine frame-to-frame jitter of its coefficients is filtered out
    rough = HiSTalk(_config(cmg_cutoff_hz=0.0)).eval()
    smooth = HiSTalk(_config(cmg_cutoff_hz=2.0)).eval()
    smooth.load_state_dict(rough.state_dict())
    with torch.no_grad():
        for model in (rough, smooth):
            model.cmg.basis.copy_(torch.eye(model.cmg.basis.shape[0], 90))
            model.cmg.head.weight.normal_()
    batch = collate([_item(40)])
    with torch.no_grad():
        jitter = [float((m(batch)["coarse"].diff(dim=1)).abs().mean()) for m in (rough, smooth)]
    assert jitter[1] < 0.5 * jitter[0]


def test_c_only_outputs_the_coarse_motion():
    torch.manual_seed(0)
    model = HiSTalk(_config(combine="c_only")).eval()
    out = model(collate([_item(12)]))
    torch.testing.assert_close(out["motion"], out["coarse"])


@pytest.mark.parametrize("options, message", [
    ({"fps": 60.0}, "fps refused .set from the cache's frame rate"),
    ({"motion_scale": 2.0}, "motion_scale refused"),
    ({"n_vertices": 10}, "n_vertices refused"),
    ({"speakers": ["A"]}, "speakers refused"),
    ({"use_se_gate": False, "se_hidden": 8}, "se_hidden refused .not read: the SE gate is off"),
    ({"use_cmg": False, "cmg_basis": 4}, "cmg_basis refused .not read: the CMG is off"),
    ({"attention": "unit", "frame_window": 2}, "frame_window refused"),
    ({"levels": ["frame"], "use_word_tokens": False}, "use_word_tokens refused .not read: levels=frame"),
    ({"se_window": 8}, "se_window must be odd"),
])
def test_options_the_configuration_does_not_read_are_refused(options, message):
    from histalk_bench.models.histalk.api import _split_options

    with pytest.raises(UserError, match=message):
        _split_options(options)


def test_unused_options_lists_every_key_with_its_reason():
    from histalk_bench.models.histalk.config import unused_options

    assert unused_options({"d_model": 32, "hsf2s": "speechformer"}) == {}
    reasons = unused_options({"use_cmg": False, "cmg_layers": 1, "fps": 25.0, "phone_window": 3})
    assert set(reasons) == {"cmg_layers", "fps", "phone_window"} and all(reasons.values())


def test_ablation_rows_report_parameter_counts(tmp_path):
    from histalk_bench.evaluate.ablation import parse_variants, summarise, write_tables

    statistics = {"frames": [10.0, 12.0], "lve_sum": [1.0, 1.5], "fdd": [0.1, 0.2], "mve_sum": [1.0, 1.0],
                  "n_vertices": [1.0, 1.0], "lrp_hits": [0.0, 0.0]}
    def run(parameters):
        return {"metrics": {"lve": 0.1, "fdd": 0.01}, "statistics": statistics,
                "run_summary": {"units": "aligned", "parameters": parameters, "mean_weights": {}}}

    variants = parse_variants("default,levels=frame")
    rows = summarise(variants, {"default": [run(1000)], "levels=frame": [run(990)]})
    assert [row["parameters"] for row in rows] == [1000, 990]
    write_tables(rows, tmp_path, {}, {})
    table = (tmp_path / "ablation.md").read_text()
    assert "| parameters |" in table and "| 990 |" in table


@pytest.mark.slow
def test_cli_refuses_a_derived_value_in_one_line_before_any_work(tmp_path):
    import subprocess
    import sys

    cache = _tiny_cache(tmp_path / "c.h5", ["A"], 2, [0.0])
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", "train", "histalk", "--data", str(cache),
                             "--out", str(out), "--features", "mel", "--set", "fps=60"], capture_output=True, text=True)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1 and "--set fps" in errors[0] and "cache" in errors[0]
    assert "Traceback" not in result.stderr and not out.exists()
