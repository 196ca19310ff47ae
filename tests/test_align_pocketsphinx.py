"""Real pocketsphinx forced alignment of espeak-ng speech (short utterances)."""

import numpy as np
import pytest

from histalk_bench.align.base import Alignment, AlignmentFailure, AlignRequest
from histalk_bench.align.report import boundary_errors

from _align_helpers import espeak_utterance

pytest.importorskip("pocketsphinx")
TEXT = "Please bring the blue map to Bob."


@pytest.fixture(scope="module")
def aligner():
    from histalk_bench.align.pocketsphinx import PocketSphinxAligner

    return PocketSphinxAligner()


def test_word_and_phone_onsets_match_espeak_times(aligner):
    audio, words, phones = espeak_utterance(TEXT)
    result = aligner.align(AlignRequest("spk", "s1", audio, TEXT))
    assert [w[2] for w in result.words] == ["please", "bring", "the", "blue", "map", "to", "bob"]
    duration = audio.size / 16000
    for tier in (result.words, result.phones):
        starts = [s for s, _, _ in tier]
        assert starts == sorted(starts)
        assert all(0.0 <= s < e <= duration + 1e-6 for s, e, _ in tier)
    assert all(any(ws - 1e-6 <= s and e <= we + 1e-6 for ws, we, _ in result.words) for s, e, _ in result.phones)
    assert {p[2] for p in result.phones} <= {"P", "L", "IY", "Z", "B", "R", "IH", "NG", "DH", "AH", "UW", "M", "AE",
                                             "T", "AA", "EH", "IY", "AO"}
    stats = boundary_errors(result.words, result.phones, words, phones)["words"]
    assert stats.n_matched == 7
    assert stats.median_ms <= 25.0, stats  # the 0.3 s padding is subtracted again
    assert stats.within_50ms >= 70.0


def test_unknown_word_gets_an_espeak_pronunciation(aligner):
    text = "Please bring the zorblaxian map."
    audio, words, phones = espeak_utterance(text)
    result = aligner.align(AlignRequest("spk", "s2", audio, text))
    assert "zorblaxian" in [w[2] for w in result.words]
    assert aligner.lexicon.sources["zorblaxian"] == "espeak-ng"
    assert boundary_errors(result.words, result.phones, words, phones)["words"].median_ms <= 40.0


def test_without_transcript_recognises_then_aligns(aligner):
    audio, _, _ = espeak_utterance(TEXT)
    result = aligner.align(AlignRequest("spk", "s3", audio, ""))
    assert result.source == "pocketsphinx (recognised)"
    assert result.words and result.phones
    assert all(s < e for s, e, _ in result.words)


def test_failures_are_captured_per_item(aligner):
    audio, _, _ = espeak_utterance(TEXT)
    requests = [AlignRequest("spk", "short", np.zeros(100, np.float32), "hello"),
                AlignRequest("spk", "empty", np.zeros(0, np.float32), ""),
                AlignRequest("spk", "silent", np.zeros(16000, np.float32), ""),
                AlignRequest("spk", "ok", audio, TEXT)]
    results = aligner.align_many(requests)
    assert isinstance(results[0], AlignmentFailure) and "shorter than 50 ms" in results[0].reason
    assert isinstance(results[1], AlignmentFailure)
    assert isinstance(results[2], AlignmentFailure) and "silent" in results[2].reason
    assert isinstance(results[3], Alignment) and len(results[3].words) == 7


def test_real_vocaset_speech_with_its_transcript(aligner, reference):
    from histalk_bench.common.audio import read_audio_16k

    audio = read_audio_16k(reference / "audio" / "voca_test_sentence_22k.wav")
    text = "Severe myopia contributed to Ron's inferiority complex."
    result = aligner.align(AlignRequest("FaceTalk_170809_00138_TA", "sentence22", audio, text))
    assert [w[2] for w in result.words] == ["severe", "myopia", "contributed", "to", "ron's", "inferiority", "complex"]
    # speech starts after about 0.6 s of silence and ends before the clip does
    assert 0.5 < result.words[0][0] < 0.8 and result.words[-1][1] < audio.size / 16000
    assert len(result.phones) >= 35
