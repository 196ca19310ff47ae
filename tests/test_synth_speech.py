"""Speech worker process, viseme table coverage, TextGrid tiers of the synthetic corpus."""

import subprocess
import sys

import numpy as np

from histalk_bench.synth.face import viseme_target
from histalk_bench.synth.speech import Voice, synthesise, synthesise_many


def test_worker_matches_in_process_synthesis_of_a_fresh_process():
    """The worker returns the same audio and times as a first synthesis in a fresh process."""
    jobs = [("Bob opened a map.", Voice()), ("We moved the blue boat.", Voice(name="en", rate=150, pitch=35))]
    first = synthesise_many(jobs)
    again = synthesise_many(jobs)
    for a, b in zip(first, again):
        assert np.array_equal(a.audio, b.audio) and a.phones == b.phones and a.words == b.words
    assert first[0].audio.dtype == np.float32 and first[0].sample_rate == 22050
    assert [w[2] for w in first[1].words] == ["we", "moved", "the", "blue", "boat"]
    assert 1.0 < len(first[1].audio) / first[1].sample_rate < 3.0


def test_corpus_can_be_written_from_an_unguarded_stdin_script(tmp_path):
    """No multiprocessing spawn: a script without a __main__ guard, fed on stdin, works."""
    script = ("from histalk_bench.synth import write_synthetic_corpus\n"
              f"write_synthetic_corpus({str(tmp_path / 'c')!r}, 'biwi', 3, 3, seed=0)\n")
    done = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "c" / "vertices_npy").glob("*.npy"))) == 9


def test_variant_labels_fall_back_to_their_base_phoneme():
    assert viseme_target("r-") == viseme_target("r")
    assert viseme_target("t2") == viseme_target("t")
    assert viseme_target("O2") == viseme_target("O")
    assert viseme_target("aI@")[0] == 1.0  # open diphthong
    assert viseme_target("m")[1] == 1.0 and viseme_target("u:")[2] > 0.9 and viseme_target("i:")[3] > 0.8


def test_textgrids_hold_words_and_phones_inside_the_audio(biwi_corpus):
    import soundfile
    from praatio import textgrid

    for path in sorted((biwi_corpus / "textgrids").rglob("*.TextGrid")):
        grid = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
        assert set(grid.tierNames) == {"words", "phones"}
        info = soundfile.info(biwi_corpus / "wav" / f"{path.parent.name}_{path.stem}.wav")
        words, phones = grid.getTier("words").entries, grid.getTier("phones").entries
        assert words and phones and phones[-1].end <= info.duration + 1e-3
        for word in words:  # every word is covered by its phones
            inside = [p for p in phones if word.start - 1e-6 <= p.start and p.end <= word.end + 1e-6]
            assert inside and abs(inside[0].start - word.start) < 1e-6 and abs(inside[-1].end - word.end) < 1e-6


def test_in_process_synthesis_is_valid_audio():
    utterance = synthesise("Five apples.", Voice(rate=180))
    assert np.isfinite(utterance.audio).all() and np.abs(utterance.audio).max() > 0.05
