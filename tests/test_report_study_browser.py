"""compare's report.html and a blinded study, in headless Chromium (tests/_browser.py).

One small compare output (static and mean on the synthetic VOCASET cache) is built once for the
module; the browser opens the report from disk, and completes a study by clicking (from disk and
through the local collection server), after which study-results must count exactly those clicks.
Screenshots land in each test's tmp folder."""

from __future__ import annotations

import csv
import json
import random
import re
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from _browser import (assert_in_step, browser, play_first_sequence, require_chromium, table_models,
                      wait_for)

MODELS = ("static", "mean")


def run_cli(*args):
    from histalk_bench.cli.main import cli

    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def compare_dir(vocaset_cache, tmp_path_factory):
    require_chromium()
    out = tmp_path_factory.mktemp("report") / "cmp"
    result = run_cli("compare", "--models", ",".join(MODELS), "--data", vocaset_cache, "--out", out)
    assert "report.html" in result.output
    return out


@pytest.mark.slow
def test_report_opens_from_disk_with_every_row_and_videos_in_step(compare_dir, tmp_path):
    page = compare_dir / "report.html"
    text = page.read_text()
    links = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert links and not [link for link in links if re.match(r"(https?:)?//", link)]  # nothing from the network
    assert "<link" not in text and "@import" not in text
    with browser(tmp_path / "profile") as driver:
        driver.get(page.as_uri())
        for table in ("leaderboard-table", "phonetic-table", "provenance-table"):
            assert sorted(table_models(driver, table)) == sorted(MODELS), table
        # sorting: LVE column, ascending then descending, by the raw values
        driver.execute_script("document.querySelectorAll('#leaderboard-table th')[1].click()")
        ascending = driver.execute_script(
            "return Array.from(document.querySelectorAll('#leaderboard-table tbody tr')).map(r => parseFloat(r.cells[1].dataset.value))")
        driver.execute_script("document.querySelectorAll('#leaderboard-table th')[1].click()")
        descending = driver.execute_script(
            "return Array.from(document.querySelectorAll('#leaderboard-table tbody tr')).map(r => parseFloat(r.cells[1].dataset.value))")
        assert ascending == sorted(ascending) and descending == sorted(ascending, reverse=True)
        wait_for(driver, "return Array.from(document.querySelectorAll('video, audio')).every(m => m.readyState >= 2)",
                 what="every clip and audio file loaded")
        assert driver.execute_script("return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        models = driver.execute_script(
            "return Array.from(document.querySelectorAll('#sequence-0 video')).map(v => v.dataset.model)")
        assert models == ["ground truth", *MODELS]
        state = play_first_sequence(driver)
        driver.save_screenshot(str(tmp_path / "report_playing.png"))
        assert_in_step(state)
        assert state["cursor"] > state["x0"] + 10, state
        other = driver.execute_script("return Array.from(document.querySelectorAll('#sequence-1 video')).map(v => v.currentTime)")
        assert other and all(t == 0 for t in other)  # one control per sequence
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(tmp_path / "report_top.png"))


def _complete(driver, url: str, choose, participant: str, shots: Path) -> None:
    """Open the study at ``url`` and answer every trial with ``choose(trial_id, question)``."""
    driver.get(url)
    driver.find_element("id", "participant").send_keys(participant)
    driver.find_element("id", "start").click()
    n = driver.execute_script("return JSON.parse(document.getElementById('study-data').textContent).trials.length")
    for index in range(n):
        trial = driver.execute_script(
            f"return JSON.parse(document.getElementById('study-data').textContent).trials[{index}].id")
        wait_for(driver, "return document.getElementById('left').readyState >= 2 && "
                 "document.getElementById('right').readyState >= 2", what=f"trial {trial}'s clips")
        if index == 0:
            driver.find_element("id", "play").click()
            wait_for(driver, "return document.getElementById('left').currentTime > 0.2", what="trial playback")
            driver.save_screenshot(str(shots / f"trial_{participant}.png"))
        for question in ("lipsync", "realism"):
            driver.find_element("css selector", f"button[data-question='{question}'][data-choice='{choose(trial, question)}']").click()
        driver.find_element("id", "next").click()
    wait_for(driver, "return !document.getElementById('done').hidden", what="the end of the study")


def _expected_counts(key: dict, clicks: dict) -> dict:
    """(a, b, question) -> [a preferred, b preferred, no preference] from the clicks and the key."""
    counts = {(a, b, q): [0, 0, 0] for a, b in key["pairs"] for q in ("lipsync", "realism")}
    for trial in key["trials"]:
        if trial["kind"] != "pair":
            continue
        a, b = trial["pair"]
        for question in ("lipsync", "realism"):
            choice = clicks[(trial["id"], question)]
            slot = 2 if choice == "none" else 0 if trial[choice] == a else 1
            counts[(a, b, question)][slot] += 1
    return counts


@pytest.mark.slow
def test_study_completed_by_clicking_is_counted_exactly(compare_dir, tmp_path):
    from histalk_bench.study.serve import make_server

    study = tmp_path / "study"
    run_cli("study", "--compare", compare_dir, "--out", study, "--pairs", "static:mean", "--trials", "4",
            "--checks", "2", "--seed", "7")
    key = json.loads((study / "key.json").read_text())
    assert not (study / "site" / "key.json").exists()
    truth = {t["id"]: ("left" if t["left"] == "ground truth" else "right") for t in key["trials"] if t["kind"] == "check"}
    assert len(truth) == 2 and sum(t["kind"] == "pair" for t in key["trials"]) == 4
    sides = [t["left"] == "static" for t in key["trials"] if t["kind"] == "pair"]
    assert sorted(sides) == [False, False, True, True]  # balanced per pair
    rng = random.Random(3)
    clicks = {}

    def attentive(trial, question):
        choice = truth[trial] if trial in truth and question == "lipsync" else rng.choice(["left", "right", "none"])
        clicks[(trial, question)] = choice
        return choice

    def careless(trial, question):  # picks the static face in every attention check
        if trial in truth and question == "lipsync":
            return "right" if truth[trial] == "left" else "left"
        return "left"

    with browser(tmp_path / "profile") as driver:
        _complete(driver, (study / "site" / "index.html").as_uri(), attentive, "alice", tmp_path)
        answers = json.loads(driver.find_element("id", "answers").text)
        assert driver.find_element("id", "download").get_attribute("href").startswith("blob:")
        driver.save_screenshot(str(tmp_path / "study_done.png"))
        (tmp_path / "alice.json").write_text(json.dumps(answers))
        server = make_server(study, "127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            _complete(driver, f"http://127.0.0.1:{server.server_address[1]}/", careless, "bob", tmp_path)
            wait_for(driver, "return document.getElementById('sent').dataset.saved === 'true'", what="answers saved")
        finally:
            server.shutdown()
            server.server_close()
    saved = list((study / "answers").glob("bob-*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["participant"] == "bob"
    assert answers["participant"] == "alice" and len(answers["responses"]) == len(key["trials"])

    result = run_cli("study-results", study, study / "answers", tmp_path / "alice.json")
    assert "excluded for failing an attention check: 1" in result.output
    rows = {(r["model_a"], r["model_b"], r["question"]): r
            for r in csv.DictReader((study / "results.csv").open())}
    for k, (a_wins, b_wins, none) in _expected_counts(key, clicks).items():
        row = rows[k]
        assert (int(row["a_preferred"]), int(row["b_preferred"]), int(row["no_preference"])) == (a_wins, b_wins, none), k
    assert sum(int(r["a_preferred"]) + int(r["b_preferred"]) + int(r["no_preference"]) for r in rows.values()) == 8


def test_no_model_name_in_the_served_files(compare_dir, tmp_path):
    study = tmp_path / "study"
    run_cli("study", "--compare", compare_dir, "--out", study, "--trials", "2", "--checks", "1")
    served = [p for p in (study / "site").rglob("*")]
    assert any(p.suffix == ".mp4" for p in served) and any(p.suffix == ".wav" for p in served)
    names = [name.encode() for name in (*MODELS, "histalk", "faceformer", "ground truth", "ground_truth")]
    for path in served:
        assert not any(name.decode() in path.name.lower() for name in names), path
        if path.is_file():
            data = path.read_bytes().lower()
            found = [name for name in names if name in data]
            assert not found, (path, found)
    key = json.loads((study / "key.json").read_text())
    assert {t["left"] for t in key["trials"]} | {t["right"] for t in key["trials"]} >= set(MODELS)
