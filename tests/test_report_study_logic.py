"""The report's and the study's logic without a browser: which sequences are shown, the study
design, the statistics, answer-file checks, and compare's --no-report / --report-sequences."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from histalk_bench.common.errors import UserError
from histalk_bench.report.build import pick_sequences
from histalk_bench.study.answers import ANSWERS_FORMAT
from histalk_bench.study.design import design_trials, parse_pairs
from histalk_bench.study.results import binomial_test, tally, wilson_interval


def _rows(lves):
    return [{"subject": "S", "sentence": f"s{i}", "lve": lve} for i, lve in enumerate(lves)]


def test_sequences_are_picked_best_median_worst_deterministically():
    rows = _rows([5.0, 1.0, 7.0, 3.0, 2.0, 6.0, 4.0])
    every = {("S", f"s{i}") for i in range(7)}
    three = pick_sequences(rows, 3, every)
    assert [(p["sentence"], p["label"], p["rank"]) for p in three] == [("s1", "best", 1), ("s6", "median", 4),
                                                                       ("s2", "worst", 7)]
    assert [p["rank"] for p in pick_sequences(rows, 4, every)] == [1, 3, 5, 7]
    assert len(pick_sequences(rows, 20, every)) == 7 and pick_sequences(rows, 0, every) == []
    assert [p["sentence"] for p in pick_sequences(rows, 1, every - {("S", "s1")})] == ["s4"]  # only available ones
    assert pick_sequences(list(reversed(rows)), 4, every) == pick_sequences(rows, 4, every)


def test_pairs_default_aliases_and_mistakes():
    assert parse_pairs(None, ["histalk", "static", "mean"]) == [("histalk", "static"), ("histalk", "mean")]
    assert parse_pairs("static:gt, mean:static", ["static", "mean"]) == [("static", "ground truth"), ("mean", "static")]
    for text, fragment in (("static:faceformer", "did not render"), ("static", "expects A:B"),
                           ("static:static", "itself"), ("static:mean,mean:static", "twice")):
        with pytest.raises(UserError, match=fragment):
            parse_pairs(text, ["static", "mean"])
    with pytest.raises(UserError, match="one model"):
        parse_pairs(None, ["static"])


def test_design_balances_sides_per_pair_and_places_checks():
    pairs = [("a", "b"), ("a", "c")]
    trials = design_trials(3, pairs, 5, 3, seed=11)
    assert [t["id"] for t in trials] == [f"t{i:02d}" for i in range(1, 14)]
    for a, b in pairs:
        mine = [t for t in trials if t["pair"] == [a, b]]
        assert len(mine) == 5 and sorted(Counter(t["left"] for t in mine).values()) == [2, 3]
        assert Counter(t["sequence"] for t in mine).most_common(1)[0][1] == 2  # 5 trials cycle over 3 sequences
    checks = [t for t in trials if t["kind"] == "check"]
    assert len(checks) == 3 and all({t["left"], t["right"]} == {"ground truth", "static face"} for t in checks)
    assert design_trials(3, pairs, 5, 3, seed=11) == trials
    assert design_trials(3, pairs, 5, 3, seed=12) != trials
    with pytest.raises(UserError, match="no sequences"):
        design_trials(0, pairs, 5, 3, seed=0)


def test_wilson_interval_and_exact_binomial_test_match_known_values():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0) and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert binomial_test(9, 10) == pytest.approx(22 / 1024)
    assert binomial_test(1, 10) == binomial_test(9, 10)
    assert binomial_test(5, 10) == 1.0 and binomial_test(0, 0) == 1.0


KEY = {"format": "histalk-bench-study-key", "version": 1, "study_id": "abc123", "pairs": [["x", "y"]],
       "trials": [{"id": "t1", "kind": "pair", "pair": ["x", "y"], "left": "x", "right": "y"},
                  {"id": "t2", "kind": "check", "pair": None, "left": "static face", "right": "ground truth"},
                  {"id": "t3", "kind": "pair", "pair": ["x", "y"], "left": "y", "right": "x"}]}


def _answers(participant, choices, study="abc123"):
    return {"format": ANSWERS_FORMAT, "version": 1, "study": study, "participant": participant,
            "responses": [{"trial": t, "lipsync": a, "realism": b, "played": True} for t, (a, b) in choices.items()]}


def test_results_count_choices_exclude_inattentive_and_refuse_bad_files(tmp_path):
    study = tmp_path / "study"
    (study / "answers").mkdir(parents=True)
    (study / "key.json").write_text(json.dumps(KEY))
    files = {"p1": _answers("p1", {"t1": ("left", "none"), "t2": ("right", "left"), "t3": ("right", "left")}),
             "p2": _answers("p2", {"t1": ("right", "right"), "t2": ("right", "right"), "t3": ("right", "none")}),
             "lazy": _answers("lazy", {"t1": ("left", "left"), "t2": ("left", "left"), "t3": ("left", "left")})}
    for name, data in files.items():
        (study / "answers" / f"{name}.json").write_text(json.dumps(data))
    results = tally(study)
    assert sorted(results.included) == ["p1", "p2"] and results.excluded == ["lazy"]
    rows = {r["question"]: r for r in results.rows}
    # lipsync: p1 picks x (t1 left) and x (t3 right); p2 picks y (t1 right) and x (t3 right)
    assert (rows["lipsync"]["a_preferred"], rows["lipsync"]["b_preferred"], rows["lipsync"]["no_preference"]) == (3, 1, 0)
    assert (rows["realism"]["a_preferred"], rows["realism"]["b_preferred"], rows["realism"]["no_preference"]) == (0, 2, 2)
    assert rows["lipsync"]["a_rate"] == 0.75

    bad = {"foreign.json": json.dumps(_answers("p3", {"t1": ("left", "left"), "t2": ("right", "right"),
                                                      "t3": ("left", "left")}, study="zzz")),
           "garbage.json": "{not json", "short.json": json.dumps(_answers("p4", {"t1": ("left", "left")})),
           "twice.json": json.dumps(files["p1"]), "odd.json": json.dumps({"format": "something else"})}
    for name, text in bad.items():
        (study / "answers" / name).write_text(text)
    from histalk_bench.cli.main import cli

    result = CliRunner().invoke(cli, ["study-results", str(study)])
    assert result.exit_code == 2 and "5 answer file(s) cannot be counted" in result.output
    for name, fragment in (("foreign.json", "another study"), ("garbage.json", "not JSON"), ("short.json", "incomplete"),
                           ("twice.json", "already answered"), ("odd.json", "not a study answer file")):
        lines = [line for line in result.output.splitlines() if name in line]
        assert len(lines) == 1 and fragment in lines[0], (name, result.output)
    assert not (study / "results.csv").exists()
    result = CliRunner().invoke(cli, ["study-results", str(study), "--skip-bad"])
    assert result.exit_code == 0, result.output
    assert "Participants counted: 2; excluded for failing an attention check: 1; answer files skipped as bad: 5" in result.output
    assert (study / "results.csv").read_text().count("\n") == 3


def test_study_needs_a_compare_output_with_rendered_sequences(tmp_path):
    with pytest.raises(UserError, match="--no-report"):
        from histalk_bench.study.build import build_study

        build_study(tmp_path, tmp_path / "study")
    assert not (tmp_path / "study").exists()


@pytest.mark.slow
def test_compare_no_report_then_report_then_reused_clips(vocaset_cache, tmp_path):
    from histalk_bench.cli.main import cli

    out = tmp_path / "cmp"
    base = ["compare", "--models", "static,mean", "--data", str(vocaset_cache), "--out", str(out)]
    result = CliRunner().invoke(cli, base + ["--no-report"])
    assert result.exit_code == 0 and not (out / "report.html").exists() and not (out / "report").exists()
    result = CliRunner().invoke(cli, base + ["--report-sequences", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "report" / "report.json").read_text())
    assert len(manifest["sequences"]) == 1 and manifest["sequences"][0]["label"] == "best"
    assert manifest["build"]["clips_rendered"] == 4 and manifest["build"]["clips_reused"] == 0  # gt, 2 models, static face
    assert "report" in result.output and "KiB page" in result.output
    result = CliRunner().invoke(cli, base + ["--report-sequences", "1"])
    manifest = json.loads((out / "report" / "report.json").read_text())
    assert manifest["build"]["clips_rendered"] == 0 and manifest["build"]["clips_reused"] == 4
    assert len(list((out / "report").glob("*.mp4"))) == 4


def test_server_serves_only_the_site_and_stores_checked_answers(tmp_path):
    import threading
    import urllib.error
    import urllib.request

    from histalk_bench.study.serve import make_server

    study = tmp_path / "study"
    (study / "site").mkdir(parents=True)
    (study / "site" / "index.html").write_text("<p>page</p>")
    (study / "key.json").write_text(json.dumps(KEY))
    server = make_server(study, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def post(body: bytes) -> tuple[int, dict]:
        request = urllib.request.Request(base + "/answers", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    try:
        assert urllib.request.urlopen(base + "/").read() == b"<p>page</p>"
        for path in ("/../key.json", "/%2e%2e/key.json", "/key.json"):
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(base + path)
        good = _answers("ann/../x", {"t1": ("left", "left"), "t2": ("right", "right"), "t3": ("none", "left")})
        assert post(b"{oops")[0] == 400
        assert post(json.dumps(_answers("p9", {"t1": ("left", "left")})).encode())[0] == 400
        status, body = post(json.dumps(good).encode())
        assert status == 200 and body["saved"].startswith("ann_x-")
    finally:
        server.shutdown()
        server.server_close()
    saved = list((study / "answers").iterdir())
    assert [p.name for p in saved] == [body["saved"]] and json.loads(saved[0].read_text()) == good
