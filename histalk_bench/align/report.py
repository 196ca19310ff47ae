"""Boundary errors of alignments against a reference (e.g. the synthetic corpus's exact times).

Words are matched by aligning the two label sequences (``difflib``), not by index, so an extra
or missing word shifts nothing.  Phones: two aligners may use different phone sets (espeak-ng
mnemonics in the synthetic TextGrids, ARPAbet from pocketsphinx/MFA), so phones are only
compared inside matched words: by label sequence when the sets are comparable (most labels
shared), otherwise by position, and only in words where both sides have the same number of
phones.  The onset error of an interval is |start_hyp - start_ref|; figures are in milliseconds.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..cache import Cache
from ..common.constants import Interval
from ..common.errors import UserError
from .base import AlignmentFailure, AlignRequest
from .factory import make_aligner
from .references import hypothesis_stems, read_textgrids, reference_for

_LABEL = re.compile(r"[^a-z0-9']")


def _word_key(label: str) -> str:
    return _LABEL.sub("", label.lower())


def match_words(hyp: list[Interval], ref: list[Interval]) -> list[tuple[Interval, Interval]]:
    """Pairs (hyp word, ref word) with equal normalised labels, in sequence-alignment order."""
    matcher = difflib.SequenceMatcher(a=[_word_key(w[2]) for w in hyp], b=[_word_key(w[2]) for w in ref],
                                      autojunk=False)
    pairs = []
    for block in matcher.get_matching_blocks():
        pairs += [(hyp[block.a + k], ref[block.b + k]) for k in range(block.size)]
    return pairs


def _inside(phones: list[Interval], word: Interval) -> list[Interval]:
    """Phones whose midpoint lies within the word."""
    return [p for p in phones if word[0] <= (p[0] + p[1]) / 2 < word[1]]


def labels_comparable(hyp_phones: list[Interval], ref_phones: list[Interval], share: float = 0.8) -> bool:
    """True when at least ``share`` of the hypothesis phone labels occur in the reference's set."""
    if not hyp_phones or not ref_phones:
        return False
    ref_set = {p[2].upper() for p in ref_phones}
    return np.mean([p[2].upper() in ref_set for p in hyp_phones]) >= share


def match_phones(hyp_phones: list[Interval], ref_phones: list[Interval],
                 word_pairs: list[tuple[Interval, Interval]], by_label: bool) -> list[tuple[Interval, Interval]]:
    """Phone pairs inside matched words (by label sequence, or by position when counts agree)."""
    pairs = []
    for hyp_word, ref_word in word_pairs:
        hyp_in, ref_in = _inside(hyp_phones, hyp_word), _inside(ref_phones, ref_word)
        if by_label:
            matcher = difflib.SequenceMatcher(a=[p[2].upper() for p in hyp_in], b=[p[2].upper() for p in ref_in],
                                              autojunk=False)
            for block in matcher.get_matching_blocks():
                pairs += [(hyp_in[block.a + k], ref_in[block.b + k]) for k in range(block.size)]
        elif hyp_in and len(hyp_in) == len(ref_in):
            pairs += list(zip(hyp_in, ref_in))
    return pairs


@dataclass
class BoundaryStats:
    """Onset errors in ms over ``n_matched`` pairs (of ``n_reference`` reference intervals)."""

    n_matched: int = 0
    n_reference: int = 0
    n_hypothesis: int = 0
    median_ms: float = float("nan")
    mean_ms: float = float("nan")
    p90_ms: float = float("nan")
    within_20ms: float = float("nan")  # percent
    within_50ms: float = float("nan")  # percent
    median_signed_ms: float = float("nan")  # hypothesis minus reference: < 0 = boundaries early
    matching: str = ""

    @classmethod
    def from_errors(cls, errors_s: list[float], n_reference: int, n_hypothesis: int, matching: str = "") -> "BoundaryStats":
        signed = np.asarray(errors_s, dtype=np.float64) * 1000.0
        errors = np.abs(signed)
        stats = cls(n_matched=int(errors.size), n_reference=n_reference, n_hypothesis=n_hypothesis, matching=matching)
        if errors.size:
            stats.median_signed_ms = float(np.median(signed))
            stats.median_ms = float(np.median(errors))
            stats.mean_ms = float(errors.mean())
            stats.p90_ms = float(np.percentile(errors, 90))
            stats.within_20ms = float(100.0 * np.mean(errors <= 20.0))
            stats.within_50ms = float(100.0 * np.mean(errors <= 50.0))
        return stats


@dataclass
class _Pool:
    """Sufficient statistics pooled over sequences: all onset errors and counts."""

    errors: list[float] = field(default_factory=list)
    n_reference: int = 0
    n_hypothesis: int = 0
    modes: set = field(default_factory=set)

    def stats(self) -> BoundaryStats:
        return BoundaryStats.from_errors(self.errors, self.n_reference, self.n_hypothesis, "/".join(sorted(self.modes)))


class BoundaryAccumulator:
    """Add (hypothesis, reference) tiers per sequence; ``result()`` gives pooled word/phone stats."""

    def __init__(self):
        self.words, self.phones = _Pool(), _Pool()
        self.n_sequences = 0

    def add(self, hyp_words: list[Interval], hyp_phones: list[Interval],
            ref_words: list[Interval], ref_phones: list[Interval]) -> None:
        self.n_sequences += 1
        word_pairs = match_words(hyp_words, ref_words)
        self.words.errors += [h[0] - r[0] for h, r in word_pairs]
        self.words.n_reference += len(ref_words)
        self.words.n_hypothesis += len(hyp_words)
        self.words.modes.add("label sequence")
        by_label = labels_comparable(hyp_phones, ref_phones)
        phone_pairs = match_phones(hyp_phones, ref_phones, word_pairs, by_label)
        self.phones.errors += [h[0] - r[0] for h, r in phone_pairs]
        self.phones.n_reference += len(ref_phones)
        self.phones.n_hypothesis += len(hyp_phones)
        self.phones.modes.add("labels within words" if by_label else "position within words of equal phone count")

    def result(self) -> dict[str, BoundaryStats]:
        return {"words": self.words.stats(), "phones": self.phones.stats()}


def boundary_errors(hyp_words: list[Interval], hyp_phones: list[Interval],
                    ref_words: list[Interval], ref_phones: list[Interval]) -> dict[str, BoundaryStats]:
    """Word and phone onset error statistics of one hypothesis against one reference."""
    accumulator = BoundaryAccumulator()
    accumulator.add(hyp_words, hyp_phones, ref_words, ref_phones)
    return accumulator.result()


@dataclass
class AlignReport:
    words: BoundaryStats
    phones: BoundaryStats
    n_sequences: int
    reference: str
    tier_source: str
    missing_hypothesis: list[str] = field(default_factory=list)
    missing_reference: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        out = [f"hypothesis: {self.tier_source}; reference: {self.reference}; sequences compared: {self.n_sequences}"]
        header = (f"{'tier':<7}{'matched':>9}{'ref':>7}{'hyp':>7}{'median ms':>11}{'mean ms':>9}{'p90 ms':>8}"
                  f"{'<=20ms':>8}{'<=50ms':>8}{'signed median ms':>18}")
        out.append(header)
        for name, s in (("words", self.words), ("phones", self.phones)):
            out.append(f"{name:<7}{s.n_matched:>9}{s.n_reference:>7}{s.n_hypothesis:>7}{s.median_ms:>11.1f}"
                       f"{s.mean_ms:>9.1f}{s.p90_ms:>8.1f}{s.within_20ms:>7.1f}%{s.within_50ms:>7.1f}%"
                       f"{s.median_signed_ms:>18.1f}")
        out.append(f"phones matched by {self.phones.matching or 'n/a'}")
        if self.words.n_reference and self.words.n_matched < 0.5 * self.words.n_reference:
            out.append(f"warning: only {self.words.n_matched} of {self.words.n_reference} reference words matched; "
                       "the transcripts or the reference may not belong to this audio")
        if self.missing_hypothesis:
            out.append(f"no hypothesis tiers for {len(self.missing_hypothesis)} sequences "
                       f"(e.g. {', '.join(self.missing_hypothesis[:3])})")
        if self.missing_reference:
            out.append(f"no reference alignment for {len(self.missing_reference)} sequences "
                       f"(e.g. {', '.join(self.missing_reference[:3])})")
        return out


def reference_dir(cache, reference: str | None) -> Path:
    """``oracle`` -> ``<corpus root>/textgrids`` from the cache config; otherwise the given folder."""
    if reference in (None, "", "oracle"):
        root = cache.config.get("root")
        if not root:
            raise UserError("the cache config has no corpus 'root'; pass --reference DIR", cache.path)
        folder = Path(root) / "textgrids"
        if not folder.is_dir():
            raise UserError("no textgrids/ folder in the cache's corpus root (only synthetic corpora have an "
                            "oracle); pass --reference DIR", folder)
        return folder
    folder = Path(reference)
    if not folder.is_dir():
        raise UserError("reference folder not found", folder)
    return folder


def reference_in(folder: Path, subject: str, sentence: str):
    """A cached sequence's reference in ``folder``: <subject>/<sentence>, <subject>/<subject>_<sentence>
    or <subject>_<sentence>, each as a TextGrid (or split word/phone TextGrids) or TIMIT .WRD/.PHN."""
    for base, stem in ((folder / subject, sentence), (folder / subject, f"{subject}_{sentence}"),
                       (folder, f"{subject}_{sentence}")):
        found = reference_for(base, stem) if base.is_dir() else None
        if found is not None:
            return found
    return None


def _cache_hypotheses(cache, aligner, split: str | None, limit: int | None):
    """Yield (key, subject, sentence, words, phones) from the cache's tiers or a fresh aligner run."""
    refs = cache.sequences(split)[:limit] if limit else cache.sequences(split)
    for ref in refs:
        if aligner is None:
            words, phones = cache.tier(ref.subject, ref.sentence, "words"), cache.tier(ref.subject, ref.sentence, "phones")
        else:
            request = AlignRequest(ref.subject, ref.sentence, cache.audio(ref.subject, ref.sentence), ref.transcript)
            result = aligner.align_many([request])[0]
            words, phones = (None, None) if isinstance(result, AlignmentFailure) else (result.words, result.phones)
        yield ref.key, ref.subject, ref.sentence, words, phones


def align_report(cache_path: str, reference: str | None = "oracle", tier_source: str = "cache",
                 split: str | None = None, limit: int | None = None, **aligner_options) -> AlignReport:
    """Compare the hypothesis with reference alignments.

    ``cache_path``: a cache (its tiers with ``tier_source='cache'``, or a freshly run aligner spec
    such as ``pocketsphinx`` on the cached audio and transcripts) or a folder of hypothesis
    TextGrids (then ``reference`` must be a folder; files are matched by stem).  References:
    TextGrids or TIMIT .WRD/.PHN (:mod:`.references`)."""
    if Path(cache_path).is_dir():
        if reference in (None, "", "oracle"):
            raise UserError("a TextGrid folder hypothesis needs --reference DIR", cache_path)
        return folder_report(cache_path, reference, limit=limit)
    with Cache(cache_path) as cache:
        folder = reference_dir(cache, reference)
        aligner = None
        if tier_source != "cache":
            aligner = make_aligner(tier_source, corpus_root=cache.config.get("root"), **aligner_options)
        accumulator = BoundaryAccumulator()
        missing_hyp, missing_ref = [], []
        for key, subject, sentence, words, phones in _cache_hypotheses(cache, aligner, split, limit):
            truth = reference_in(folder, subject, sentence)
            if truth is None:
                missing_ref.append(key)
            elif words is None:
                missing_hyp.append(key)
            else:
                accumulator.add(words, phones or [], truth.words, truth.phones)
        if accumulator.n_sequences == 0:
            total = len(missing_hyp) + len(missing_ref)
            why = (f"{len(missing_hyp)} have no {'cached alignment (prepare with --aligner)' if aligner is None else 'alignment'}"
                   if missing_hyp else f"{len(missing_ref)} have no reference in {folder}")
            raise UserError(f"nothing to compare: of {total} sequences, {why}", cache_path)
        result = accumulator.result()
        return AlignReport(words=result["words"], phones=result["phones"], n_sequences=accumulator.n_sequences,
                           reference=str(folder), tier_source=tier_source,
                           missing_hypothesis=missing_hyp, missing_reference=missing_ref)


def folder_report(hypothesis: str | Path, reference: str | Path, limit: int | None = None) -> AlignReport:
    """Hypothesis TextGrids ``<stem>.TextGrid`` against references in a folder, matched by stem."""
    folder = Path(reference)
    if not folder.is_dir():
        raise UserError("reference folder not found", folder)
    stems = hypothesis_stems(hypothesis)
    if not stems:
        raise UserError("no .TextGrid files in the hypothesis folder", hypothesis)
    accumulator, missing_ref = BoundaryAccumulator(), []
    for stem, path in list(stems.items())[:limit] if limit else stems.items():
        truth = reference_for(folder, stem)
        if truth is None:
            missing_ref.append(stem)
            continue
        hyp = read_textgrids(path)
        accumulator.add(hyp.words, hyp.phones, truth.words, truth.phones)
    result = accumulator.result()
    return AlignReport(words=result["words"], phones=result["phones"], n_sequences=accumulator.n_sequences,
                       reference=str(folder), tier_source=str(hypothesis), missing_reference=missing_ref)
