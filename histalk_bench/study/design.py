"""The trials of a study: which two clips each shows and on which side, in which order.

For each pair (A, B) ``trials_per_pair`` trials cycle through the rendered sequences (in a
shuffled order); exactly half of them show A on the left (with an odd count the extra one goes to
a random side), in shuffled order.  Attention checks pit the ground truth against the subject's
static face (no motion at all), on random sides, and are inserted at random positions.  Everything
follows ``random.Random(seed)``, so the same seed and inputs give the same design.
"""

from __future__ import annotations

import random

from ..common.errors import UserError

GROUND_TRUTH = "ground truth"
STATIC_FACE = "static face"
ALIASES = {"gt": GROUND_TRUTH, "ground_truth": GROUND_TRUTH, "ground truth": GROUND_TRUTH}


def parse_pairs(text: str | None, models: list[str]) -> list[tuple[str, str]]:
    """'a:b,c:d' -> [(a, b), (c, d)]; names are compared models or 'gt' (the ground truth).
    None: the first model against each other model."""
    if text is None:
        if len(models) < 2:
            raise UserError(f"the compare output holds one model ({', '.join(models)}); give --pairs MODEL:gt "
                            "to compare it with the ground truth")
        return [(models[0], other) for other in models[1:]]
    pairs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        a, sep, b = item.partition(":")
        if not sep or not a.strip() or not b.strip():
            raise UserError(f"--pairs expects A:B[,C:D...], got '{item}'")
        a, b = (ALIASES.get(x.strip(), x.strip()) for x in (a, b))
        for name in (a, b):
            if name != GROUND_TRUTH and name not in models:
                raise UserError(f"--pairs names '{name}', which the compare output did not render "
                                f"(rendered: {', '.join(models)}, and gt)")
        if a == b:
            raise UserError(f"--pairs pairs '{a}' with itself")
        if (a, b) in pairs or (b, a) in pairs:
            raise UserError(f"--pairs names the pair {a}:{b} twice")
        pairs.append((a, b))
    if not pairs:
        raise UserError("--pairs is empty")
    return pairs


def balanced_sides(n: int, rng: random.Random) -> list[bool]:
    """n booleans (True: the pair's first model on the left), half each way, shuffled."""
    sides = [True] * (n // 2) + [False] * (n // 2)
    if n % 2:
        sides.append(rng.random() < 0.5)
    rng.shuffle(sides)
    return sides


def design_trials(n_sequences: int, pairs: list[tuple[str, str]], trials_per_pair: int, n_checks: int,
                  seed: int) -> list[dict]:
    """[{id, kind ('pair' or 'check'), pair [A, B] or null, sequence (index), left, right}] in
    presentation order; ids are t01, t02, ... in that order."""
    if n_sequences < 1:
        raise UserError("the compare output rendered no sequences (run compare with --report-sequences 1 or more)")
    if trials_per_pair < 1:
        raise UserError(f"--trials must be at least 1, got {trials_per_pair}")
    if n_checks < 0:
        raise UserError(f"--checks must be 0 or more, got {n_checks}")
    rng = random.Random(seed)
    trials = []
    for a, b in pairs:
        order = list(range(n_sequences))
        rng.shuffle(order)
        for k, a_left in enumerate(balanced_sides(trials_per_pair, rng)):
            left, right = (a, b) if a_left else (b, a)
            trials.append({"kind": "pair", "pair": [a, b], "sequence": order[k % n_sequences], "left": left, "right": right})
    rng.shuffle(trials)
    for gt_left in balanced_sides(n_checks, rng):
        left, right = (GROUND_TRUTH, STATIC_FACE) if gt_left else (STATIC_FACE, GROUND_TRUTH)
        check = {"kind": "check", "pair": None, "sequence": rng.randrange(n_sequences), "left": left, "right": right}
        trials.insert(rng.randrange(len(trials) + 1), check)
    width = max(2, len(str(len(trials))))
    return [{"id": f"t{i + 1:0{width}d}", **trial} for i, trial in enumerate(trials)]
