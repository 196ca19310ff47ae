"""TextGrid reading/writing, the textgrid:DIR importer and the oracle aligner."""

import pytest

from histalk_bench.align.base import Alignment, AlignmentFailure, AlignRequest
from histalk_bench.align.factory import make_aligner
from histalk_bench.align.textgrid_io import read_textgrid, write_textgrid
from histalk_bench.common.errors import UserError

ALIGNMENT = Alignment(words=[(0.1, 0.4, "hello"), (0.5, 0.9, "world")],
                      phones=[(0.1, 0.2, "HH"), (0.2, 0.4, "OW"), (0.5, 0.7, "W"), (0.7, 0.9, "D")])


def _grid(path, tiers, xmax=1.0):
    from praatio import textgrid

    grid = textgrid.Textgrid()
    for name, entries in tiers.items():
        grid.addTier(textgrid.IntervalTier(name, entries, 0.0, xmax))
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(str(path), format="long_textgrid", includeBlankSpaces=True)
    return path


def test_round_trip(tmp_path):
    path = write_textgrid(tmp_path / "a" / "b.TextGrid", ALIGNMENT, duration_s=1.2)
    back = read_textgrid(path)
    assert back.words == ALIGNMENT.words and back.phones == ALIGNMENT.phones
    assert "xmax = 1.2" in path.read_text()


def test_mfa_speaker_tier_names_and_silences(tmp_path):
    path = _grid(tmp_path / "g.TextGrid", {
        "F2 - words": [(0.0, 0.2, ""), (0.2, 0.5, "hi"), (0.5, 0.6, "<eps>"), (0.6, 0.9, "there")],
        "F2 - phones": [(0.2, 0.3, "HH"), (0.3, 0.5, "AY1"), (0.5, 0.6, "sil"), (0.6, 0.7, "spn"), (0.7, 0.9, "R")],
    })
    alignment = read_textgrid(path)
    assert alignment.words == [(0.2, 0.5, "hi"), (0.6, 0.9, "there")]
    assert [p[2] for p in alignment.phones] == ["HH", "AY1", "R"]


def test_missing_tier_and_file_are_user_errors(tmp_path):
    path = _grid(tmp_path / "g.TextGrid", {"words": [(0.1, 0.2, "a")]})
    with pytest.raises(UserError, match="no 'phones' tier"):
        read_textgrid(path)
    with pytest.raises(UserError, match="TextGrid not found"):
        read_textgrid(tmp_path / "none.TextGrid")


def test_textgrid_dir_both_layouts_and_captured_failures(tmp_path):
    write_textgrid(tmp_path / "tg" / "subj" / "s01.TextGrid", ALIGNMENT, 1.0)
    write_textgrid(tmp_path / "tg" / "F2_e01.TextGrid", ALIGNMENT, 1.0)
    write_textgrid(tmp_path / "tg" / "M1" / "M1_e03.TextGrid", ALIGNMENT, 1.0)  # MFA's output layout
    aligner = make_aligner(f"textgrid:{tmp_path / 'tg'}")
    results = aligner.align_many([AlignRequest("subj", "s01", None), AlignRequest("F2", "e01", None),
                                  AlignRequest("F2", "e02", None), AlignRequest("M1", "e03", None)])
    assert results[0].words == ALIGNMENT.words and results[1].phones == ALIGNMENT.phones
    assert isinstance(results[2], AlignmentFailure) and "F2_e02.TextGrid" in results[2].reason
    assert results[3].words == ALIGNMENT.words
    with pytest.raises(UserError, match="not found"):
        make_aligner(f"textgrid:{tmp_path / 'missing'}")


def test_oracle_reads_the_synthetic_ground_truth(tmp_path):
    write_textgrid(tmp_path / "corpus" / "textgrids" / "subj" / "sentence01.TextGrid", ALIGNMENT, 1.0)
    oracle = make_aligner("oracle", corpus_root=str(tmp_path / "corpus"))
    result = oracle.align_many([AlignRequest("subj", "sentence01", None)])[0]
    assert result.words == ALIGNMENT.words and result.source == "oracle"
    with pytest.raises(UserError, match="textgrids"):
        make_aligner("oracle", corpus_root=str(tmp_path))


def test_oracle_on_a_generated_corpus(vocaset_corpus):
    from histalk_bench.cache import AUDIO_RATE  # noqa: F401  (cache schema constant exists)

    oracle = make_aligner("oracle", corpus_root=str(vocaset_corpus))
    subject = sorted(p.name for p in (vocaset_corpus / "textgrids").iterdir())[0]
    sentence = sorted((vocaset_corpus / "textgrids" / subject).glob("*.TextGrid"))[0].stem
    result = oracle.align_many([AlignRequest(subject, sentence, None)])[0]
    assert result.words and result.phones
    assert all(s < e for s, e, _ in result.words + result.phones)


def test_overlapping_and_empty_intervals_are_cleaned_on_write(tmp_path):
    messy = Alignment(words=[(0.5, 0.9, "b"), (0.1, 0.55, "a"), (0.9, 0.9, "zero")], phones=[(0.1, 0.2, " ")])
    back = read_textgrid(write_textgrid(tmp_path / "m.TextGrid", messy, 1.0))
    assert back.words == [(0.1, 0.55, "a"), (0.55, 0.9, "b")] and back.phones == []
