"""The mfa backend against the stand-in ``mfa`` script (real corpus folder, real TextGrids)."""

import numpy as np
import pytest

from histalk_bench.align.base import Alignment, AlignmentFailure, AlignRequest
from histalk_bench.align.factory import make_aligner
from histalk_bench.common.errors import UserError

from _align_helpers import install_fake_mfa


def _request(subject, sentence, seconds, transcript):
    rng = np.random.default_rng(0)
    return AlignRequest(subject, sentence, (0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32), transcript)


@pytest.fixture
def fake_mfa(tmp_path):
    return install_fake_mfa(tmp_path / "bin")


def test_one_call_aligns_every_speaker(fake_mfa):
    aligner = make_aligner("mfa", mfa_bin=str(fake_mfa))
    requests = [_request("FaceTalk_170725_00137_TA", "sentence01", 2.0, "Please bring the map."),
                _request("F2", "e01", 1.0, "Hello world"),
                _request("F2", "e02", 1.0, "")]
    results = aligner.align_many(requests)
    first, second, third = results
    assert isinstance(first, Alignment) and first.source == "mfa"
    assert [w[2] for w in first.words] == ["please", "bring", "the", "map."]
    # the stand-in spreads words evenly over 0.2..1.8 s; empty gaps are dropped on reading
    assert np.allclose([w[0] for w in first.words], [0.2, 0.6, 1.0, 1.4])
    assert [p[2] for p in first.phones][:6] == list("PLEASE")
    assert isinstance(second, Alignment) and [w[2] for w in second.words] == ["hello", "world"]
    assert isinstance(third, AlignmentFailure) and "transcript" in third.reason


def test_failed_run_gives_a_failure_per_item(fake_mfa, monkeypatch):
    monkeypatch.setenv("FAKE_MFA_FAIL", "1")
    results = make_aligner("mfa", mfa_bin=str(fake_mfa)).align_many(
        [_request("a", "1", 1.0, "one two"), _request("b", "2", 1.0, "three")])
    assert all(isinstance(r, AlignmentFailure) for r in results)
    assert "exited with code 1" in results[0].reason and "FAKE_MFA_FAIL" in results[0].reason


def test_unaligned_utterance_fails_alone(fake_mfa):
    results = make_aligner("mfa", mfa_bin=str(fake_mfa)).align_many(
        [_request("a", "1", 1.0, "an unalignable take"), _request("a", "2", 1.0, "fine words")])
    assert isinstance(results[0], AlignmentFailure) and "no TextGrid" in results[0].reason
    assert isinstance(results[1], Alignment)


def test_command_line_passes_names_through(fake_mfa, tmp_path):
    aligner = make_aligner("mfa", mfa_bin=str(fake_mfa), mfa_dictionary="my.dict", mfa_acoustic_model="english_mfa")
    command = aligner.command(tmp_path / "c", tmp_path / "o")
    assert command[1:6] == ["align", str(tmp_path / "c"), "my.dict", "english_mfa", str(tmp_path / "o")]
    assert "--clean" in command and command[command.index("--output_format") + 1] == "long_textgrid"
    assert make_aligner("mfa", mfa_bin=str(fake_mfa)).command(tmp_path, tmp_path)[3:5] == ["english_us_arpa"] * 2


def test_missing_executable_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no '.*nothing-here/mfa' executable"):
        make_aligner("mfa", mfa_bin=str(tmp_path / "nothing-here" / "mfa"))


def test_auto_uses_mfa_only_when_present_and_transcribed(fake_mfa, tmp_path, monkeypatch):
    auto = make_aligner("auto", mfa_bin=str(fake_mfa))
    assert auto.mfa is not None
    results = auto.align_many([_request("a", "1", 1.0, "two words")])
    assert results[0].source == "mfa"
    # MFA's failure on one utterance goes to pocketsphinx (noise audio: it fails too, both reasons kept)
    failed = auto.align_many([_request("a", "2", 0.02, "unalignable words")])[0]
    assert isinstance(failed, AlignmentFailure)
    assert failed.reason.startswith("mfa: mfa wrote no TextGrid") and "pocketsphinx:" in failed.reason
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert make_aligner("auto").mfa is None  # falls back to pocketsphinx for everything


def test_unknown_aligner_suggests_the_close_name():
    with pytest.raises(UserError, match="did you mean 'pocketsphinx'"):
        make_aligner("pocketspinx")
    with pytest.raises(UserError, match="textgrid:DIR"):
        make_aligner("textgrid")
    assert make_aligner("none").name == "none"


def test_prepare_stores_mfa_tiers_and_writes_textgrids(fake_mfa, vocaset_corpus, tmp_path):
    from histalk_bench.cache import Cache
    from histalk_bench.datasets.prepare import prepare_vocaset

    cache_path = tmp_path / "mfa.h5"
    prepare_vocaset(vocaset_corpus, cache_path, aligner="mfa", features="none", limit=3, progress=False,
                    textgrids=str(tmp_path / "tg"), aligner_options={"mfa_bin": str(fake_mfa)})
    with Cache(cache_path) as cache:
        refs = cache.sequences()
        assert len(refs) == 3
        for ref in refs:
            words = cache.tier(ref.subject, ref.sentence, "words")
            assert [w[2] for w in words] == [w.lower() for w in ref.transcript.split()]
            assert (tmp_path / "tg" / ref.subject / f"{ref.sentence}.TextGrid").exists()


def test_auto_rescues_mfa_failures_with_pocketsphinx(fake_mfa):
    pytest.importorskip("pocketsphinx")
    from _align_helpers import espeak_utterance

    audio, words, _ = espeak_utterance("This take is unalignable.")
    result = make_aligner("auto", mfa_bin=str(fake_mfa)).align_many([AlignRequest("a", "1", audio, "This take is unalignable.")])[0]
    assert isinstance(result, Alignment) and result.source == "pocketsphinx"
    assert [w[2] for w in result.words] == [w[2] for w in words]
