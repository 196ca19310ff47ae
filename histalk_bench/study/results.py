"""``histalk-bench study-results``: preference rates per pair and question from answer files.

Per pair (A, B) and question: how often A was preferred over B among the answers that chose a side
("no preference" answers are counted but left out of the rate), with a Wilson score 95% interval
and a two-sided exact binomial test against 50%.  Participants who fail any attention check
(not choosing the ground truth over the static face for lip sync) are excluded and counted.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..common.atomic import atomic_path, write_text_atomic
from ..common.errors import UserError
from .answers import QUESTIONS, BadAnswers, read_answers
from .build import ANSWERS, read_key
from .design import GROUND_TRUTH

logger = logging.getLogger(__name__)

Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (NaN, NaN for n = 0)."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_test(successes: int, n: int) -> float:
    """Two-sided exact binomial test against p = 0.5: the probability of a count at least as far
    from n/2 as ``successes`` (1.0 for n = 0)."""
    if n == 0:
        return 1.0
    tail = min(successes, n - successes)
    p = sum(math.comb(n, k) for k in range(tail + 1)) / 2 ** n
    return min(1.0, 2 * p)


@dataclass
class Tally:
    """Answers of one pair (a, b) and question."""

    a: str
    b: str
    question: str
    a_wins: int = 0
    b_wins: int = 0
    no_preference: int = 0

    def row(self) -> dict:
        n = self.a_wins + self.b_wins
        low, high = wilson_interval(self.a_wins, n)
        return {"model_a": self.a, "model_b": self.b, "question": self.question, "a_preferred": self.a_wins,
                "b_preferred": self.b_wins, "no_preference": self.no_preference, "n_decisive": n,
                "a_rate": self.a_wins / n if n else float("nan"), "ci95_low": low, "ci95_high": high,
                "p_value": binomial_test(self.a_wins, n)}


@dataclass
class StudyResults:
    rows: list[dict]
    included: list[str]
    excluded: list[str]
    bad: list[str] = field(default_factory=list)  # one line per skipped file


def answer_files(study: Path, given: list[str]) -> list[Path]:
    """The files named (folders: their *.json), else STUDY/answers/*.json."""
    sources = [Path(p) for p in given] or [study / ANSWERS]
    files = []
    for source in sources:
        if source.is_dir():
            files += sorted(source.glob("*.json"))
        elif source.exists():
            files.append(source)
        else:
            raise UserError("no such answer file or folder", source)
    if not files:
        raise UserError("no answer files (*.json)", ", ".join(map(str, sources)))
    return files


def passes_checks(answers: dict, key: dict) -> bool:
    """True when every attention check's lip-sync answer picked the ground truth's side."""
    trials = {t["id"]: t for t in key["trials"]}
    for response in answers["responses"]:
        trial = trials[response["trial"]]
        if trial["kind"] == "check":
            truth = "left" if trial["left"] == GROUND_TRUTH else "right"
            if response["lipsync"] != truth:
                return False
    return True


def tally(study: str | Path, given: list[str] | None = None, skip_bad: bool = False) -> StudyResults:
    """Count every valid answer file of ``study``; bad or foreign files are an error (listing each
    on one line) unless ``skip_bad``."""
    study = Path(study)
    key = read_key(study)
    trials = {t["id"]: t for t in key["trials"]}
    tallies = {(a, b, q): Tally(a, b, q) for a, b in key["pairs"] for q in QUESTIONS}
    included, excluded, bad, seen = [], [], [], {}
    for path in answer_files(study, list(given or [])):
        try:
            answers = read_answers(path, key)
            if answers["participant"] in seen:
                raise BadAnswers(f"participant '{answers['participant']}' already answered in {seen[answers['participant']]}")
        except BadAnswers as exc:
            bad.append(f"{path}: {exc}")
            continue
        seen[answers["participant"]] = path
        if not passes_checks(answers, key):
            excluded.append(answers["participant"])
            continue
        included.append(answers["participant"])
        for response in answers["responses"]:
            trial = trials[response["trial"]]
            if trial["kind"] != "pair":
                continue
            a, b = trial["pair"]
            for question in QUESTIONS:
                counts = tallies[(a, b, question)]
                choice = response[question]
                if choice == "none":
                    counts.no_preference += 1
                elif trial[choice] == a:
                    counts.a_wins += 1
                else:
                    counts.b_wins += 1
    for line in bad:
        logger.warning("%s%s", "skipped: " if skip_bad else "", line)
    if bad and not skip_bad:
        raise UserError(f"{len(bad)} answer file(s) cannot be counted (listed above): fix or remove them, "
                        "or pass --skip-bad to leave them out")
    return StudyResults([t.row() for t in tallies.values()], included, excluded, bad)


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.1f}%"


def markdown(results: StudyResults, key: dict) -> str:
    lines = [f"# Study results ({key['study_id']})", "",
             f"Participants counted: {len(results.included)}; excluded for failing an attention check: "
             f"{len(results.excluded)}; answer files skipped as bad: {len(results.bad)}.", "",
             "| A | B | question | A preferred | B preferred | no preference | A rate | Wilson 95% CI | p (exact, two-sided) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results.rows:
        ci = "n/a" if r["n_decisive"] == 0 else f"{_percent(r['ci95_low'])} – {_percent(r['ci95_high'])}"
        lines.append(f"| {r['model_a']} | {r['model_b']} | {r['question']} | {r['a_preferred']} | {r['b_preferred']} | "
                     f"{r['no_preference']} | {_percent(r['a_rate'])} | {ci} | {r['p_value']:.4g} |")
    lines += ["", "A rate: share of the answers that chose a side which preferred A ('no preference' left out). "
              "Questions: lipsync = 'Which lips match the speech better?', realism = 'Which face looks more realistic?'. "
              "p: exact binomial test against 50%. An attention check pits the ground truth against the static face; "
              "a participant who does not pick the ground truth for lip sync in every check is excluded."]
    return "\n".join(lines) + "\n"


def write_results(study: str | Path, results: StudyResults) -> tuple[Path, Path]:
    """STUDY/results.csv and STUDY/results.md (atomically)."""
    study = Path(study)
    key = read_key(study)
    csv_path = study / "results.csv"
    with atomic_path(csv_path) as temporary:
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(results.rows[0]) if results.rows else ["model_a"])
            writer.writeheader()
            writer.writerows(results.rows)
    md_path = write_text_atomic(study / "results.md", markdown(results, key))
    return csv_path, md_path
