"""Pronunciations: additions file, cmudict, espeak-ng letter-to-sound mapped to ARPAbet."""

import pytest

from histalk_bench.align.lexicon import ARPABET, Lexicon, espeak_mnemonics, espeak_to_arpabet, read_additions, transcript_words
from histalk_bench.common.errors import UserError


def test_transcript_words_keep_inner_apostrophes():
    assert transcript_words("Don't  stop, Bob's 2 dogs!") == ["don't", "stop", "bob's", "2", "dogs"]


def test_espeak_mnemonics_map_to_arpabet():
    assert espeak_to_arpabet(["dZ", "'V", "dZ"]) == ["JH", "AH", "JH"]
    assert espeak_to_arpabet(["h", "@", "l", "'oU"]) == ["HH", "AH", "L", "OW"]
    phones = espeak_to_arpabet(espeak_mnemonics("thinking"))
    assert phones == ["TH", "IH", "NG", "K", "IH", "NG"]


def test_lookup_order(tmp_path):
    additions = tmp_path / "extra.dict"
    additions.write_text("# comment\nhistalk HH IH1 S T AO0 K\n")
    lexicon = Lexicon(additions=[additions])
    assert lexicon.pronounce("HiSTalk") == ["HH", "IH", "S", "T", "AO", "K"]
    assert lexicon.pronounce("hello") == ["HH", "AH", "L", "OW"]
    assert lexicon.sources["hello"] == "cmudict"
    made_up = lexicon.pronounce("blorptastic")
    assert lexicon.sources["blorptastic"] == "espeak-ng"
    assert made_up and set(made_up) <= ARPABET


def test_bad_additions_line_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.dict"
    bad.write_text("word Q1 X\n")
    with pytest.raises(UserError, match=r"bad.dict: line 1"):
        read_additions(bad)


def test_repository_additions_file_is_valid():
    from histalk_bench.align.lexicon import default_additions_paths

    for path in default_additions_paths():
        assert read_additions(path)
