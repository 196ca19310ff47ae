"""The standard train/val/test splits (FaceFormer/CodeTalker protocol), see docs/datasets.md."""

from __future__ import annotations

import re

VOCASET_TRAIN = ["FaceTalk_170728_03272_TA", "FaceTalk_170904_00128_TA", "FaceTalk_170725_00137_TA",
                 "FaceTalk_170915_00223_TA", "FaceTalk_170811_03274_TA", "FaceTalk_170913_03279_TA",
                 "FaceTalk_170904_03276_TA", "FaceTalk_170912_03278_TA"]
VOCASET_VAL = ["FaceTalk_170811_03275_TA", "FaceTalk_170908_03277_TA"]
VOCASET_TEST = ["FaceTalk_170809_00138_TA", "FaceTalk_170731_00024_TA"]
BIWI_TRAIN = ["F2", "F3", "F4", "M3", "M4", "M5"]
BIWI_TEST_B = ["F1", "F5", "F6", "F7", "F8", "M1", "M2", "M6"]


def _number(sentence: str) -> int:
    match = re.search(r"(\d+)$", sentence)
    return int(match.group(1)) if match else -1


def vocaset_split(subject: str, sentence: str) -> str:
    """train: 8 subjects x sentences 01-40; val/test: 2 subjects each x sentences 21-40; else none."""
    number = _number(sentence)
    if subject in VOCASET_TRAIN and 1 <= number <= 40:
        return "train"
    if subject in VOCASET_VAL and 21 <= number <= 40:
        return "val"
    if subject in VOCASET_TEST and 21 <= number <= 40:
        return "test"
    return "none"


def biwi_split(subject: str, sentence: str) -> str:
    """train e01-32, val e33-36, test_a e37-40 (training subjects); test_b e37-40 (unseen subjects)."""
    number = _number(sentence)
    if subject in BIWI_TRAIN:
        if 1 <= number <= 32:
            return "train"
        if 33 <= number <= 36:
            return "val"
        if 37 <= number <= 40:
            return "test_a"
    if subject in BIWI_TEST_B and 37 <= number <= 40:
        return "test_b"
    return "none"
