"""Bad input to the commands and options added after the failure work (ablate, animate, align,
align-report, predict --transcript/--aligner/--frames/--backbone/--wav2vec2-model, render of new
audio, train --set sizes): one `error:` line, exit 2, nothing written; an option that would do
nothing is refused rather than ignored."""

import numpy as np
import pytest

from test_failures_cli import assert_one_line_error, cli_in_process


@pytest.fixture(scope="module")
def mel_run(vocaset_cache, tmp_path_factory):
    """A 1-epoch HiSTalk run on log-mel features that did not record its cache, a wav, an empty
    transcript file, an empty .npy and a file that is not a checkpoint."""
    import soundfile

    from histalk_bench.cache import Cache
    from histalk_bench.models.histalk.api import train

    root = tmp_path_factory.mktemp("bad_new")
    train(vocaset_cache, root / "run", epochs=1, progress=False, d_model=16, features="mel", stage_layers=[1, 1, 1, 1])
    with Cache(vocaset_cache) as cache:
        ref = cache.sequences("test")[0]
        soundfile.write(root / "speech.wav", cache.audio(ref.subject, ref.sentence), 16000)
        n_vertices = cache.n_vertices
    soundfile.write(root / "blip.wav", np.zeros(10, np.float32), 16000)
    (root / "empty.txt").write_text("\n")
    np.save(root / "empty.npy", np.zeros((0, n_vertices * 3), np.float32))
    np.save(root / "still.npy", np.zeros((5, n_vertices * 3), np.float32))
    (root / "not.pt").write_text("not a checkpoint")
    return root


def _fill(args, root, cache, out):
    return [str(a).format(run=root / "run", wav=root / "speech.wav", root=root, cache=cache, out=out) for a in args]


ABLATE = ["ablate", "--data", "{cache}", "--out", "{out}", "--features", "mel", "--epochs", "1"]


@pytest.mark.parametrize("extra, fragment", [
    (["--seeds", "0"], "'--seeds': 0 is not in the range x>=1"),
    (["--epochs", "-2"], "'--epochs'"),
    (["--device", "gpu"], "is not a device"),
    (["--set", "lr=-1"], "'--set': lr:"),
    (["--set", "d_model=0"], "sizes must be >= 1, got d_model=0"),
    (["--variants", ","], "--variants names no variant"),
    (["--variants", "nosuch=1"], "variant 'nosuch=1': unknown histalk option(s): nosuch"),
    (["--variants", "levels=bogus"], "variant 'levels=bogus': invalid histalk option: levels"),
    (["--variants", "default,use_cmg=maybe"], "use_cmg='maybe' should be of type bool"),
    (["--features", "nosuch"], "the cache has no 'nosuch' features"),
])
def test_ablate_refuses_before_any_run(extra, fragment, vocaset_cache, tmp_path):
    out = tmp_path / "ablation"
    assert_one_line_error(cli_in_process(*_fill(ABLATE, tmp_path, vocaset_cache, out), *extra), fragment)
    assert not out.exists()  # no empty runs/<variant>/ folders left behind


@pytest.mark.parametrize("args, fragment", [
    # options that only act on new audio, or only with another option, are refused, not ignored
    (["predict", "--run", "{run}", "--data", "{cache}", "--out", "{out}.h5", "--template", "x"], "--template only acts with --audio"),
    (["predict", "--run", "{run}", "--data", "{cache}", "--out", "{out}.h5", "--condition", "x"], "--condition only acts with --audio"),
    (["predict", "--run", "{run}", "--data", "{cache}", "--out", "{out}.h5", "--backbone", "int8"], "--backbone only acts"),
    (["predict", "--run", "{run}", "--data", "{cache}", "--out", "{out}.h5", "--aligner", "mfa"], "--aligner only acts"),
    (["predict", "--run", "{run}", "--audio", "{wav}", "--out", "{out}.npy", "--aligner", "mfa"], "--aligner only acts with --transcript"),
    (["predict", "--run", "{run}", "--audio", "{wav}", "--out", "{out}.npy", "--frames", "audio"], "--frames only acts on a split"),
    (["predict", "--run", "{run}", "--audio", "{wav}", "--data", "{cache}", "--out", "{out}.npy", "--backbone", "int8"],
     "--backbone int8: model 'histalk' (this run) has no wav2vec2 backbone to speed up"),
    (["predict", "--run", "{run}", "--data", "{cache}", "--out", "{out}.h5", "--frames", "gt"], "--frames is not read by histalk predictions"),
    (["align", "{wav}", "--transcript", "a", "--aligner", "pocketsphinx", "--mfa-bin", "mfa", "--out", "{out}"], "--mfa-bin only acts"),
    (["align-report", "{cache}", "--mfa-bin", "mfa"], "--mfa-bin only acts with --tier-source mfa or auto"),
    (["render", "--pred", "{root}/still.npy", "--condition", "x", "--out", "{out}.mp4"], "--condition selects a speaker"),
    # a run on log-mel features has no use for wav2vec2 weights
    (["predict", "--run", "{run}", "--data", "{cache}", "--out", "{out}.h5", "--wav2vec2-model", "w"], "--wav2vec2-model: this model reads 'mel'"),
    (["predict", "--run", "{run}", "--audio", "{wav}", "--out", "{out}.npy", "--wav2vec2-model", "w"], "--wav2vec2-model: this model reads 'mel'"),
    (["train", "histalk", "--data", "{cache}", "--out", "{out}", "--features", "mel", "--wav2vec2-model", "w"], "--wav2vec2-model only acts"),
    # an empty transcript is an error, never a silent fallback to statistical units
    (["predict", "--run", "{run}", "--audio", "{wav}", "--out", "{out}.npy", "--data", "{cache}", "--transcript", ""], "--transcript is empty"),
    (["predict", "--run", "{run}", "--audio", "{wav}", "--out", "{out}.npy", "--data", "{cache}", "--transcript-file", "{root}/empty.txt"], "--transcript is empty"),
    (["animate", "{wav}", "--run", "{run}", "--data", "{cache}", "--out", "{out}.mp4", "--transcript", ""], "--transcript is empty"),
])
def test_options_that_would_do_nothing_are_refused(args, fragment, mel_run, vocaset_cache, tmp_path):
    assert_one_line_error(cli_in_process(*_fill(args, mel_run, vocaset_cache, tmp_path / "out")), fragment)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, fragment", [
    (["predict", "--checkpoint", "{root}/not.pt", "--data", "{cache}", "--out", "{out}.h5"], "not.pt: not a readable checkpoint"),
    (["animate", "{wav}", "--checkpoint", "{root}/not.pt", "--out", "{out}.mp4"], "not a readable checkpoint"),
    (["predict", "--checkpoint", "{run}/best.pt", "--audio", "{wav}", "--template", "nobody", "--out", "{out}.npy"],
     "--template 'nobody' names a subject of a cache: give --data"),
    (["predict", "--run", "{run}", "--audio", "{root}/blip.wav", "--data", "{cache}", "--out", "{out}.npy"], "shorter than one frame"),
    (["render", "--pred", "{root}/empty.npy", "--data", "{cache}", "--out", "{out}.mp4"], "empty.npy: no vertices"),
    (["compare", "--models", "static", "--data", "{cache}", "--split", "nosuch", "--out", "{out}"], "no sequences in split 'nosuch'"),
    (["train", "histalk", "--data", "{cache}", "--out", "{out}", "--features", "mel", "--set", "d_model=-4"], "d_model=-4"),
    (["train", "histalk", "--data", "{cache}", "--out", "{out}", "--features", "mel", "--set", "n_heads=0"], "n_heads=0"),
    (["train", "histalk", "--data", "{cache}", "--out", "{out}", "--features", "mel", "--set", "dropout=1.5"], "dropout must be in [0, 1)"),
])
def test_bad_files_and_sizes_are_one_line(args, fragment, mel_run, vocaset_cache, tmp_path):
    assert_one_line_error(cli_in_process(*_fill(args, mel_run, vocaset_cache, tmp_path / "out")), fragment)
    assert list(tmp_path.iterdir()) == []
