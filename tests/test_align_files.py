"""The align command (audio files -> TextGrids) and align-report on TextGrid folders and TIMIT labels."""

import json
import subprocess
import sys

import numpy as np
import pytest

from histalk_bench.align.files import clean_transcript
from histalk_bench.align.references import read_textgrids, reference_for, timit_phones
from histalk_bench.align.report import align_report, folder_report


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", *map(str, args)], capture_output=True, text=True)


def test_transcript_cleaning_drops_timit_indices_and_noise_markers():
    assert clean_transcript("0 46797 She had your dark suit.\n") == "She had your dark suit."
    assert clean_transcript("i'm saying [adif] bunch <VOCNOISE> yeah") == "i'm saying bunch yeah"


def test_timit_phones_merge_closures_and_map_to_arpabet(tmp_path):
    rows = [(0, 2400, "h#"), (2400, 4260, "sh"), (4260, 5480, "iy"), (5480, 6516, "hv"), (8856, 9610, "dcl"),
            (9610, 9859, "d"), (9859, 10000, "q"), (10000, 10400, "pcl"), (10400, 11200, "ix")]
    phones = timit_phones(rows)
    assert [p[2] for p in phones] == ["SH", "IY", "HH", "D", "P", "IH"]
    assert phones[3][:2] == (8856 / 16000, 9859 / 16000)  # the stop starts at its closure
    assert phones[4][:2] == (10000 / 16000, 10400 / 16000)  # unreleased closure kept alone
    (tmp_path / "X.WRD").write_text("2400 5480 she\n5480 9859 had\n")
    (tmp_path / "X.PHN").write_text("\n".join(f"{s} {e} {lab}" for s, e, lab in rows))
    found = reference_for(tmp_path, "x")  # file names matched case-insensitively
    assert found.words == [(0.15, 5480 / 16000, "she"), (5480 / 16000, 9859 / 16000, "had")] and len(found.phones) == 6


@pytest.fixture(scope="module")
def recordings(vocaset_cache, tmp_path_factory):
    """Three cached synthetic utterances written as NIST SPHERE (16 kHz), FLAC (44.1 kHz) and WAV (22.05 kHz)
    with a .lab transcript beside each, plus the oracle reference TextGrids named by the same stems."""
    import shutil

    import soundfile
    import soxr

    from histalk_bench.cache import Cache

    folder = tmp_path_factory.mktemp("rec")
    (folder / "audio").mkdir()
    (folder / "ref").mkdir()
    with Cache(vocaset_cache) as cache:
        root = cache.config["root"]
        for ref, (suffix, rate, fmt) in zip(cache.sequences()[:3], ((".sph", 16000, "NIST"), (".flac", 44100, "FLAC"),
                                                                   (".wav", 22050, "WAV"))):
            stem = f"{ref.subject}_{ref.sentence}"
            audio = soxr.resample(cache.audio(ref.subject, ref.sentence), 16000, rate) if rate != 16000 else cache.audio(ref.subject, ref.sentence)
            soundfile.write(folder / "audio" / f"{stem}{suffix}", audio, rate, format=fmt, subtype="PCM_16")
            (folder / "audio" / f"{stem}.lab").write_text(ref.transcript)
            shutil.copy(f"{root}/textgrids/{ref.subject}/{ref.sentence}.TextGrid", folder / "ref" / f"{stem}.TextGrid")
    return folder


def test_align_command_reads_any_format_and_rate_and_matches_the_oracle(recordings, tmp_path):
    pytest.importorskip("pocketsphinx")
    audio = sorted(p for p in (recordings / "audio").iterdir() if p.suffix != ".lab")
    result = _cli("align", *audio, "--aligner", "pocketsphinx", "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("transcript: ") == 3 and ".lab" in result.stdout
    grids = sorted((tmp_path / "out").glob("*.TextGrid"))
    assert [g.stem for g in grids] == [p.stem for p in audio]
    alignment = read_textgrids(grids[0])
    assert alignment.words and alignment.phones
    report = align_report(str(tmp_path / "out"), reference=str(recordings / "ref"))
    assert report.n_sequences == 3 and report.words.n_matched >= 0.9 * report.words.n_reference
    assert report.words.median_ms <= 25.0
    cli = _cli("align-report", tmp_path / "out", "--reference", recordings / "ref", "--json", tmp_path / "r.json")
    assert cli.returncode == 0 and "signed median ms" in cli.stdout
    assert json.loads((tmp_path / "r.json").read_text())["n_sequences"] == 3


def test_align_command_errors_are_one_line(recordings, tmp_path):
    wav = next((recordings / "audio").glob("*.wav"))
    lonely = tmp_path / "lonely.wav"
    lonely.write_bytes(wav.read_bytes())
    missing = _cli("align", lonely, "--aligner", "pocketsphinx", "--out", tmp_path / "out")
    assert missing.returncode == 2 and "no transcript" in missing.stderr and "Traceback" not in missing.stderr
    both = _cli("align", lonely, "--transcript", "a", "--transcript-file", wav, "--out", tmp_path / "out")
    assert both.returncode == 2 and "not both" in both.stderr
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    bad = _cli("align", tmp_path / "bad.wav", "--transcript", "hello", "--out", tmp_path / "out")
    assert bad.returncode == 2 and "unreadable audio" in bad.stderr and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_real_speech_word_onsets(reference, tmp_path):
    """TIMIT SA1, MFA's test corpus (with 'yknow', 'um', noise markers) and praatio's examples."""
    pytest.importorskip("pocketsphinx")
    root = reference / "align"
    sa1 = _cli("align", root / "timit_sa1" / "SA1.WAV", "--transcript",
               "she had your dark suit in greasy wash water all year", "--aligner", "pocketsphinx", "--out", tmp_path / "timit")
    assert sa1.returncode == 0, sa1.stderr
    timit = folder_report(tmp_path / "timit", root / "timit_sa1")
    assert timit.words.n_matched == 11 and timit.words.median_ms <= 20.0  # the done-criterion
    mfa = _cli("align", *sorted((root / "mfa_corpus").glob("*.wav")), "--aligner", "pocketsphinx", "--out", tmp_path / "mfa")
    assert mfa.returncode == 0, mfa.stderr  # out-of-dictionary words fail no utterance
    corpus = folder_report(tmp_path / "mfa", root / "mfa_corpus")
    assert corpus.n_sequences == 3 and corpus.words.n_matched >= 0.9 * corpus.words.n_reference
    assert corpus.words.median_ms <= 25.0
    for stem, text in (("bobby", "bobby ripped the ledger"), ("mary", "mary rolled the barrel")):
        done = _cli("align", root / "praatio" / f"{stem}.wav", "--transcript", text, "--aligner", "pocketsphinx",
                    "--out", tmp_path / "praatio")
        assert done.returncode == 0, done.stderr
    praatio = folder_report(tmp_path / "praatio", root / "praatio")
    assert praatio.words.n_matched == 8 and praatio.words.median_ms <= 40.0
    print({name: round(r.words.median_ms, 1) for name, r in (("timit", timit), ("mfa", corpus), ("praatio", praatio))})


def test_cache_tiers_against_timit_layout_references(tmp_path):
    """A cache hypothesis finds DIR/<subject>/<sentence>.WRD (TIMIT's speaker/sentence layout)."""
    from histalk_bench.cache import CacheWriter, SequenceData

    writer = CacheWriter(tmp_path / "c.h5", dataset="x", fps=30, n_vertices=2, config={})
    writer.write_sequence(SequenceData("FCJF0", "SA1", np.zeros((3, 2, 3), np.float32), np.zeros(1600, np.float32),
                                       words=[(0.16, 0.3425, "she"), (0.3425, 0.6162, "had")], phones=[]))
    writer.finalize()
    (tmp_path / "ref" / "FCJF0").mkdir(parents=True)
    (tmp_path / "ref" / "FCJF0" / "SA1.WRD").write_text("2400 5480 she\n5480 9859 had\n")
    report = align_report(str(tmp_path / "c.h5"), reference=str(tmp_path / "ref"))
    assert report.n_sequences == 1 and report.words.n_matched == 2 and not report.missing_reference
    assert report.words.mean_ms == pytest.approx(5.0, abs=0.01) and report.words.median_signed_ms == pytest.approx(5.0, abs=0.01)
