"""Every failure class of docs/failures.md, through the CLI: a non-zero exit with one `error:` line
(or exit 130 for Ctrl-C), no traceback, nothing half-written, and no silent wrong result."""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from histalk_bench.cache import Cache
from histalk_bench.common import lock


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "histalk_bench.cli.main", *map(str, args)], capture_output=True,
                          text=True, **kwargs)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in last, last
    return last


def cli_in_process(*args):
    """The same CLI in this process (fast: for argument checks that stop before any work)."""
    from click.testing import CliRunner

    from histalk_bench.cli.main import cli as group

    result = CliRunner().invoke(group, [str(a) for a in args])
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def leftovers(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix in (".tmp", ".partial", ".lock"))


@pytest.fixture(scope="module")
def static_predictions(vocaset_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("static") / "static.h5"
    assert cli("predict", "--model", "static", "--data", vocaset_cache, "--out", out).returncode == 0
    return out


# 1. arguments validated before work starts (one Click type per kind, shared by every command)
@pytest.mark.parametrize("args, fragment", [
    (["train", "histalk", "--epochs", "0"], "'--epochs': 0 is not in the range x>=1"),
    (["train", "histalk", "--epochs", "-1"], "'--epochs'"),
    (["train", "histalk", "--batch-size", "0"], "'--batch-size'"),
    (["train", "histalk", "--lr", "-1"], "'--lr': '-1' must be a finite number > 0"),
    (["train", "histalk", "--lr", "nan"], "'--lr'"),
    (["train", "histalk", "--device", "cuda:7"], "'--device'"),
    (["train", "histalk", "--device", "gpu"], "is not a device"),
    (["evaluate", "--pred", "P", "--lrp-threshold", "-1"], "'--lrp-threshold'"),
    (["evaluate", "--pred", "P", "--lrp-threshold", "nan"], "'--lrp-threshold'"),
    (["compare", "--models", "static", "--lrp-threshold", "inf"], "'--lrp-threshold'"),
    (["render", "--sequence", "a/b", "--error-max", "-1"], "'--error-max'"),
    (["prepare", "vocaset", "--root", "R", "--jobs", "0"], "'--jobs'"),
    (["synth", "--subjects", "0"], "'--subjects'"),
    (["compare", "--models", "static", "--allow-missing"], "No such option '--allow-missing'"),
    (["train", "histalk", "--set", "epochs=0"], "'--set': epochs: 0 is not in the range x>=1"),
    (["train", "histalk", "--set", "lr=-0.5"], "'--set': lr:"),
    (["predict", "--model", "static", "--out", "folder/"], "a file name is expected"),
])
def test_invalid_arguments_are_refused_before_work(args, fragment, vocaset_cache, tmp_path):
    if "--out" not in args and args[0] != "render":
        args = args + ["--out", tmp_path / ("out" if args[0] in ("train", "compare", "synth") else "out.h5")]
    if args[0] == "render":
        args = args + ["--out", tmp_path / "v.mp4"]
    if args[0] not in ("synth", "prepare"):
        args = args + ["--data", vocaset_cache]
    assert_one_line_error(cli_in_process(*args), fragment)
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("command", [
    ["train", "histalk", "--data", "{cache}", "--epochs", "1", "--out", "{bad}/run"],
    ["predict", "--model", "static", "--data", "{cache}", "--out", "{bad}/p.h5"],
    ["evaluate", "--pred", "{cache}", "--data", "{cache}", "--out", "{bad}/s.json"],
    ["compare", "--models", "static", "--data", "{cache}", "--out", "{bad}/cmp"],
    ["prepare", "vocaset", "--root", "{cache}", "--out", "{bad}/c.h5"],
    ["synth", "--out", "{bad}/corpus"],
    ["align-report", "{cache}", "--json", "{bad}/r.json"],
    ["render", "--data", "{cache}", "--sequence", "a/b", "--out", "{bad}/v.mp4"],
])
def test_output_under_a_file_is_refused(command, vocaset_cache, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    args = [a.format(cache=vocaset_cache, bad=blocker) for a in command]
    assert_one_line_error(cli_in_process(*args), "'--out'" if "--json" not in args else "'--json'", "is a file, not a folder")


def test_cuda_device_refused_on_a_cpu_build(vocaset_cache, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible")
    last = assert_one_line_error(cli_in_process("predict", "--model", "static", "--data", vocaset_cache, "--out",
                                                tmp_path / "p.h5", "--device", "cuda"), "not available here")
    assert "--device cpu" in last



@pytest.mark.parametrize("flag", ["--amp", "--compile"])
def test_gpu_only_training_flags_are_refused_on_the_cpu(flag, vocaset_cache, tmp_path):
    """--amp and --compile would change nothing on a CPU: an error, not a silent no-op."""
    result = cli_in_process("train", "histalk", "--data", vocaset_cache, "--out", tmp_path / "run", "--epochs", "1",
                            "--features", "mel", "--device", "cpu", flag)
    assert_one_line_error(result, f"{flag} needs a CUDA device")
    assert not (tmp_path / "run").exists()

# 2. I/O errors (a file size limit: the same failure as a full disk) and Ctrl-C
def _file_limit(n_bytes):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, n_bytes))
    return apply


def test_io_error_is_one_line_and_removes_temporaries(vocaset_corpus, vocaset_cache, tmp_path):
    result = cli("prepare", "vocaset", "--root", vocaset_corpus, "--out", tmp_path / "c.h5", "--features", "none",
                 "--quiet", preexec_fn=_file_limit(2_000_000))
    assert_one_line_error(result, "File too large", "re-run")
    assert not (tmp_path / "c.h5").exists() and leftovers(tmp_path) == []
    result = cli("predict", "--model", "static", "--data", vocaset_cache, "--out", tmp_path / "p.h5",
                 preexec_fn=_file_limit(300_000))
    assert_one_line_error(result, "re-run")
    assert not (tmp_path / "p.h5").exists() and leftovers(tmp_path) == []



def test_failed_checkpoint_write_is_one_line_and_leaves_no_run(vocaset_cache, tmp_path):
    """torch.save reports a failed write as a RuntimeError: it still ends in one line, naming the file."""
    run = tmp_path / "run"
    result = cli("train", "histalk", "--data", vocaset_cache, "--out", run, "--epochs", "1", "--features", "mel",
                 "--quiet", preexec_fn=_file_limit(200_000))
    assert_one_line_error(result, "best.pt", "could not write the checkpoint")
    assert not run.exists() and leftovers(tmp_path) == []

def test_not_enough_disk_space_is_refused_before_writing(tmp_path):
    from histalk_bench.common.atomic import ensure_free_space
    from histalk_bench.common.errors import UserError

    with pytest.raises(UserError, match="not enough disk space"):
        ensure_free_space(tmp_path, shutil.disk_usage(tmp_path).free * 2, "x")
    ensure_free_space(tmp_path, 1, "x")


@pytest.mark.slow
def test_ctrl_c_exits_130_and_says_a_rerun_resumes(vocaset_cache, tmp_path):
    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "histalk_bench.cli.main", "train", "histalk", "--data",
                                str(vocaset_cache), "--out", str(run), "--epochs", "500", "--quiet", "--features", "mel"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "last.pt").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "re-running the same command resumes" in err
    assert leftovers(tmp_path) == [] and (run / "last.pt").exists()
    resumed = cli("train", "histalk", "--data", vocaset_cache, "--out", run, "--epochs", "1", "--resume", "--quiet",
                  "--features", "mel")
    assert resumed.returncode == 0, resumed.stderr


# 3. one writer at a time
@pytest.mark.parametrize("kind", ["cache", "run", "predictions", "compare"])
def test_a_second_writer_gets_one_line(kind, vocaset_corpus, vocaset_cache, tmp_path):
    target = {"cache": tmp_path / "c.h5", "run": tmp_path / "run", "predictions": tmp_path / "p.h5",
              "compare": tmp_path / "cmp"}[kind]
    args = {"cache": ["prepare", "vocaset", "--root", vocaset_corpus, "--out", target, "--features", "none"],
            "run": ["train", "histalk", "--data", vocaset_cache, "--out", target, "--epochs", "1", "--features", "mel"],
            "predictions": ["predict", "--model", "static", "--data", vocaset_cache, "--out", target],
            "compare": ["compare", "--models", "static", "--data", vocaset_cache, "--out", target]}[kind]
    folder = kind in ("run", "compare")
    lock.acquire(target, folder=folder)  # this test process is the first writer
    try:
        assert_one_line_error(cli(*args), f"(pid {os.getpid()}) is writing this")
    finally:
        lock.release(target, folder=folder)
    assert not (tmp_path / "c.h5").exists() and not (tmp_path / "p.h5").exists()


# 4. integrity of ground truth
def _corrupt_first_chunk(path, key):
    with h5py.File(path, "r") as handle:
        offset = handle["sequences"][key]["vertices"].id.get_chunk_info(0).byte_offset + 256
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(b"\x7f" * 16)


def test_corrupted_ground_truth_is_detected_by_checksum(vocaset_cache, static_predictions, tmp_path):
    damaged = tmp_path / "damaged.h5"
    shutil.copy(vocaset_cache, damaged)
    with Cache(damaged) as cache:
        key = cache.sequences("test")[0].key
    _corrupt_first_chunk(damaged, key)
    last = assert_one_line_error(cli("evaluate", "--pred", static_predictions, "--data", damaged, "--out",
                                     tmp_path / "s.json"), f"/sequences/{key}/vertices", "checksum mismatch")
    assert str(damaged) in last and not (tmp_path / "s.json").exists()


def _strip_provenance(path):
    """What a cache written before fingerprints looks like (and its vertices, unchecksummed)."""
    with h5py.File(path, "r+") as handle:
        del handle.attrs["fingerprint"]
        for subject in handle["sequences"].values():
            for group in subject.values():
                del group.attrs["content_sha256"]
                data = group["vertices"][()]
                del group["vertices"]
                group.create_dataset("vertices", data=data, chunks=(min(30, len(data)), *data.shape[1:]))


def test_old_cache_reads_as_unverified_and_damage_is_still_caught(vocaset_cache, static_predictions, tmp_path):
    old = tmp_path / "old.h5"
    shutil.copy(vocaset_cache, old)
    _strip_provenance(old)
    result = cli("evaluate", "--pred", static_predictions, "--data", old, "--out", tmp_path / "s.json")
    assert result.returncode == 0, result.stderr
    cache_provenance = json.loads((tmp_path / "s.json").read_text())["provenance"]["cache"]
    assert cache_provenance["verified"] is False and "unverified" in cache_provenance["fingerprint"]
    with Cache(old) as cache:
        key = cache.sequences("test")[0].key
    _corrupt_first_chunk(old, key)  # no checksum: the ground-truth check catches the garbage values
    assert_one_line_error(cli("evaluate", "--pred", static_predictions, "--data", old), f"[{key}]", "ground truth")


def test_prepared_cache_has_fingerprint_and_scores_carry_provenance(vocaset_cache, static_predictions, tmp_path):
    with Cache(vocaset_cache) as cache:
        provenance = cache.provenance()
        with h5py.File(vocaset_cache, "r") as handle:
            ref = cache.sequences()[0]
            assert handle["sequences"][ref.subject][ref.sentence]["vertices"].fletcher32
    assert provenance["verified"] and len(provenance["fingerprint"]) == 64
    result = cli("evaluate", "--pred", static_predictions, "--data", vocaset_cache, "--out", tmp_path / "s.json")
    assert result.returncode == 0, result.stderr
    assert "(x1e-5)" in result.stdout and "intervals are unreliable" in result.stdout  # 2 test sequences here
    scores = json.loads((tmp_path / "s.json").read_text())["provenance"]
    assert scores["cache"]["fingerprint"] == provenance["fingerprint"]
    assert scores["predictions"]["cache_fingerprint"] == provenance["fingerprint"]
    assert scores["predictions"]["split"] == "test" and scores["environment"]["torch"]


def test_a_wrong_split_leaves_nothing_for_the_next_compare(vocaset_cache, tmp_path):
    assert_one_line_error(cli_in_process("compare", "--models", "static", "--data", vocaset_cache, "--split", "tset",
                                         "--out", tmp_path / "cmp"), "no sequences in split 'tset'", "splits here")
    assert leftovers(tmp_path) == [] and not list(tmp_path.rglob("predictions.h5"))


def test_a_cache_given_as_predictions_is_refused(vocaset_cache):
    assert_one_line_error(cli_in_process("evaluate", "--pred", vocaset_cache, "--data", vocaset_cache),
                          "this is a prepared cache, not predictions")


def test_align_report_without_alignments_is_an_error(vocaset_corpus, tmp_path):
    cache = tmp_path / "plain.h5"
    assert cli("prepare", "vocaset", "--root", vocaset_corpus, "--out", cache, "--features", "none",
               "--limit", "2", "--quiet").returncode == 0
    assert_one_line_error(cli("align-report", cache, "--json", tmp_path / "r.json"), "no cached alignment")
    assert not (tmp_path / "r.json").exists()


# 5. provenance decides reuse; mismatched runs and caches are refused
@pytest.mark.slow
def test_compare_reuses_only_complete_predictions_of_the_same_provenance(vocaset_cache, vocaset_corpus, tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", "--models", "static", "--data", vocaset_cache, "--out", out]
    assert cli(*args).returncode == 0
    again = cli(*args)
    assert again.returncode == 0 and "reusing" in again.stderr and "not reusing" not in again.stderr
    other = tmp_path / "other.h5"  # the same corpus, prepared without features: another fingerprint
    assert cli("prepare", "vocaset", "--root", vocaset_corpus, "--out", other, "--aligner", "oracle",
               "--features", "none", "--quiet").returncode == 0
    changed = cli("compare", "--models", "static", "--data", other, "--out", out)
    assert changed.returncode == 0 and "not reusing" in changed.stderr and "cache_fingerprint" in changed.stderr
    with h5py.File(out / "static" / "predictions.h5", "r+") as handle:  # as if written by an interrupted run
        del handle.attrs["complete"]
    partial = cli("compare", "--models", "static", "--data", other, "--out", out)
    assert partial.returncode == 0 and "not reusing" in partial.stderr and "incomplete" in partial.stderr


@pytest.mark.slow
def test_runs_refuse_other_caches_and_stale_predictions_are_not_reused(vocaset_cache, biwi_corpus, tmp_path):
    biwi = tmp_path / "biwi.h5"
    assert cli_in_process("prepare", "biwi", "--root", biwi_corpus, "--out", biwi, "--features", "none",
                          "--quiet").returncode == 0
    run_a, run_b, out = tmp_path / "A", tmp_path / "B", tmp_path / "cmp"
    for run, seed in ((run_a, 0), (run_b, 1)):
        trained = cli("train", "histalk", "--data", vocaset_cache, "--out", run, "--epochs", "1", "--seed", seed, "--quiet",
                      "--features", "mel")
        assert trained.returncode == 0, trained.stderr
    recorded = json.loads((run_a / "provenance.json").read_text())
    assert recorded["dataset"] == "vocaset" and recorded["speakers"] and recorded["cache"]["verified"]
    assert_one_line_error(cli_in_process("train", "histalk", "--data", biwi, "--out", run_a, "--epochs", "2", "--resume"),
                          "cannot resume this run", "dataset: run vocaset, cache biwi")
    assert_one_line_error(cli_in_process("predict", "--model", "histalk", "--run", run_a, "--data", biwi, "--split",
                                         "test_a", "--out", tmp_path / "p.h5"), "cannot use this run", "dataset")
    assert_one_line_error(cli_in_process("train", "histalk", "--data", vocaset_cache, "--out", tmp_path / "fresh",
                                         "--epochs", "1", "--resume"), "--resume needs a checkpoint")
    assert not (tmp_path / "fresh").exists() and not (tmp_path / "p.h5").exists()
    first = cli_in_process("predict", "--model", "histalk", "--run", run_a, "--data", vocaset_cache,
                           "--out", out / "histalk" / "predictions.h5")  # what an earlier compare with run A left
    assert first.returncode == 0, first.stderr
    second = cli("compare", "--models", "histalk", "--data", vocaset_cache, "--run", f"histalk={run_b}", "--out", out)
    assert second.returncode == 0 and "not reusing" in second.stderr and "run" in second.stderr
    scores = json.loads((out / "histalk" / "scores.json").read_text())
    assert scores["provenance"]["predictions"]["run"] == str(run_b)
    with h5py.File(out / "histalk" / "predictions.h5", "r") as handle:
        meta = json.loads(handle.attrs["meta"])
    from histalk_bench.models.provenance import file_digest

    assert meta["checkpoint_sha256"] == file_digest(run_b / "best.pt") != file_digest(run_a / "best.pt")
    template = tmp_path / "small.npy"
    np.save(template, np.zeros((10, 3), np.float32))
    audio = sorted((biwi_corpus / "wav").glob("*.wav"))[0]
    assert_one_line_error(cli_in_process("predict", "--model", "histalk", "--run", run_a, "--audio", audio, "--template",
                                         template, "--out", tmp_path / "p.npy"), "template has 10 vertices")
