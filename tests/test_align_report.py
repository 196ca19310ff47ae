"""Boundary error statistics and the align-report command."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from histalk_bench.align.report import align_report, boundary_errors, labels_comparable, match_words
from histalk_bench.cli.main import cli

REF_WORDS = [(0.10, 0.30, "the"), (0.30, 0.60, "blue"), (0.60, 1.00, "boat")]
REF_PHONES = [(0.10, 0.15, "D"), (0.15, 0.30, "@"), (0.30, 0.40, "b"), (0.40, 0.50, "l"), (0.50, 0.60, "u:"),
              (0.60, 0.70, "b"), (0.70, 0.90, "oU"), (0.90, 1.00, "t")]


def test_words_matched_by_label_sequence_not_index():
    hyp = [(0.05, 0.10, "uh"), (0.11, 0.30, "The"), (0.32, 0.60, "blue"), (0.60, 1.0, "boat.")]
    pairs = match_words(hyp, REF_WORDS)
    assert [(h[2], r[2]) for h, r in pairs] == [("The", "the"), ("blue", "blue"), ("boat.", "boat")]


def test_statistics_are_the_expected_numbers():
    hyp_words = [(0.11, 0.30, "the"), (0.33, 0.60, "blue"), (0.70, 1.00, "boat")]  # errors 10, 30, 100 ms
    stats = boundary_errors(hyp_words, [], REF_WORDS, REF_PHONES)
    words = stats["words"]
    assert words.n_matched == 3 and words.n_reference == 3
    assert words.median_ms == pytest.approx(30.0)
    assert words.mean_ms == pytest.approx(140.0 / 3)
    assert words.p90_ms == pytest.approx(np.percentile([10, 30, 100], 90))
    assert words.within_20ms == pytest.approx(100 / 3) and words.within_50ms == pytest.approx(200 / 3)
    assert stats["phones"].n_matched == 0


def test_phones_with_another_label_set_pair_by_position_in_equal_words():
    hyp_phones = [(0.12, 0.15, "DH"), (0.15, 0.30, "AH"), (0.30, 0.42, "B"), (0.42, 0.60, "L"),  # 'blue' 2 of 3
                  (0.60, 0.71, "B"), (0.71, 0.90, "OW"), (0.90, 1.00, "T")]
    assert not labels_comparable(hyp_phones, REF_PHONES)
    phones = boundary_errors(REF_WORDS, hyp_phones, REF_WORDS, REF_PHONES)["phones"]
    assert phones.n_matched == 5  # 'the' (2) and 'boat' (3); 'blue' has unequal counts
    assert phones.median_ms == pytest.approx(0.0, abs=1e-9) and phones.mean_ms == pytest.approx(30 / 5, abs=1e-6)  # 20 + 0 + 0 + 10 + 0 ms
    same_set = boundary_errors(REF_WORDS, REF_PHONES[:-1], REF_WORDS, REF_PHONES)["phones"]
    assert same_set.n_matched == 7 and same_set.matching == "labels within words"


@pytest.fixture(scope="module")
def oracle_cache(vocaset_cache):
    return vocaset_cache


def test_report_of_oracle_tiers_is_exact(oracle_cache):
    report = align_report(str(oracle_cache), reference="oracle")
    assert report.n_sequences > 0 and not report.missing_reference
    assert report.words.median_ms == pytest.approx(0.0, abs=1e-3) and report.words.within_20ms == 100.0
    assert report.phones.n_matched == report.phones.n_reference


def test_pocketsphinx_against_the_oracle(oracle_cache):
    pytest.importorskip("pocketsphinx")
    report = align_report(str(oracle_cache), reference="oracle", tier_source="pocketsphinx", limit=3)
    assert report.n_sequences == 3
    assert report.words.n_matched >= 0.9 * report.words.n_reference
    assert report.words.median_ms <= 25.0


def test_cli_prints_table_and_json(oracle_cache, tmp_path):
    out = tmp_path / "r.json"
    result = CliRunner().invoke(cli, ["align-report", str(oracle_cache), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "words" in result.output and "median ms" in result.output
    assert json.loads(out.read_text())["words"]["n_matched"] > 0


def test_cli_needs_reference_when_cache_has_no_root(tmp_path):
    from histalk_bench.cache import CacheWriter, SequenceData

    path = tmp_path / "c.h5"
    writer = CacheWriter(path, dataset="x", fps=30, n_vertices=2, config={})
    writer.write_sequence(SequenceData("s", "1", np.zeros((3, 2, 3), np.float32), np.zeros(1600, np.float32),
                                       words=REF_WORDS, phones=REF_PHONES))
    writer.finalize()
    result = CliRunner().invoke(cli, ["align-report", str(path)])
    assert result.exit_code == 2 and "pass --reference DIR" in result.output
    from histalk_bench.align.textgrid_io import write_textgrid
    from histalk_bench.align.base import Alignment

    write_textgrid(tmp_path / "ref" / "s" / "1.TextGrid", Alignment(REF_PHONES, REF_WORDS), 1.0)
    result = CliRunner().invoke(cli, ["align-report", str(path), "--reference", str(tmp_path / "ref")])
    assert result.exit_code == 0 and "sequences compared: 1" in result.output
