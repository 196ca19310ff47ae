"""The shared training loop on a small generic task (no HiSTalk): exact resume, early stopping,
checkpoints loadable with weights_only, run folder contents."""

import json

import numpy as np
import pytest
import torch

from histalk_bench.models.training import TrainOptions, fit, load_checkpoint

torch.set_num_threads(1)


class Sequences(torch.utils.data.Dataset):
    """Variable-length sequences whose target is a fixed linear function of the input."""

    def __init__(self, n: int, seed: int):
        rng = np.random.default_rng(seed)
        self.items = []
        weight = np.random.default_rng(99).normal(size=(4, 3)).astype(np.float32)
        for i in range(n):
            x = rng.normal(size=(5 + 3 * i, 4)).astype(np.float32)
            self.items.append({"x": x, "y": x @ weight})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def collate(items):
    longest = max(len(item["x"]) for item in items)
    batch = {"x": torch.zeros(len(items), longest, 4), "y": torch.zeros(len(items), longest, 3),
             "mask": torch.zeros(len(items), longest, dtype=torch.bool)}
    for row, item in enumerate(items):
        n = len(item["x"])
        batch["x"][row, :n], batch["y"][row, :n], batch["mask"][row, :n] = torch.from_numpy(item["x"]), torch.from_numpy(item["y"]), True
    return batch


class Task:
    def __init__(self, seed=0):
        torch.manual_seed(seed)
        self.model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Dropout(0.2), torch.nn.Linear(16, 3))

    def _error(self, model, batch):
        return ((model(batch["x"]) - batch["y"]) ** 2).sum(-1) * batch["mask"]

    def loss(self, model, batch):
        loss = self._error(model, batch).sum() / batch["mask"].sum()
        return loss, {"mse": float(loss.detach())}

    def validate(self, model, batch):
        error = self._error(model, batch)
        per_sequence = error.sum(1) / batch["mask"].sum(1)
        return {"loss": float(per_sequence.sum()), "lve_sum": float(error.sum()), "frames": float(batch["mask"].sum())}

    def run_config(self):
        return {"model": "toy"}


def _fit(out, **options):
    values = dict(epochs=6, batch_size=2, lr=1e-2, progress=False, patience=0)
    values.update(options)
    return fit(Task(), Sequences(7, 1), Sequences(3, 2), out, TrainOptions(**values), collate)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    straight = _fit(tmp_path / "straight")
    _fit(tmp_path / "resumed", epochs=3)
    resumed = _fit(tmp_path / "resumed", resume=True)
    assert [h["epoch"] for h in resumed] == list(range(6))
    assert resumed == straight  # same shuffles, same dropout masks, same losses
    a, b = load_checkpoint(tmp_path / "straight" / "last.pt"), load_checkpoint(tmp_path / "resumed" / "last.pt")
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], rtol=0, atol=0)
    assert straight[-1]["train_loss"] < straight[0]["train_loss"]
    assert "val_lve" in straight[-1] and "train_mse" in straight[-1]


def test_run_folder_and_weights_only_checkpoints(tmp_path):
    _fit(tmp_path / "run", epochs=2)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["task"] == {"model": "toy"} and config["train"]["epochs"] == 2
    lines = (tmp_path / "run" / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [0, 1]
    timings = [json.loads(line) for line in (tmp_path / "run" / "timings.jsonl").read_text().splitlines()]
    assert [t["epoch"] for t in timings] == [0, 1] and all(t["epoch_s"] > 0 and t["device"] == "cpu" for t in timings)
    assert "epoch_s" not in json.loads(lines[0])  # timings stay out of the deterministic history
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    model = Task().model
    model.load_state_dict(best["model"])  # a plain state dict
    assert json.loads(best["config"]) == {"model": "toy"}


def test_early_stopping_stops_after_patience_epochs_without_improvement(tmp_path):
    history = _fit(tmp_path / "run", epochs=50, lr=0.0, patience=3)  # lr 0: never improves after epoch 0
    assert len(history) == 4


def test_different_seeds_give_different_runs_and_same_seed_the_same(tmp_path):
    a = _fit(tmp_path / "a", epochs=2)
    b = _fit(tmp_path / "b", epochs=2)
    c = _fit(tmp_path / "c", epochs=2, seed=5)
    assert a == b and a != c


@pytest.mark.parametrize("device", ["cpu"])
def test_explicit_device(tmp_path, device):
    assert _fit(tmp_path / "run", epochs=1, device=device)[0]["epoch"] == 0


def test_save_every_and_a_fresh_run_replaces_the_old_history(tmp_path):
    _fit(tmp_path / "run", epochs=5)
    history = _fit(tmp_path / "run", epochs=7, save_every=3)  # not --resume: starts again
    lines = (tmp_path / "run" / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(7))
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["epoch"] == 6  # always written at the end
    best_epoch = min(history, key=lambda h: h["val_loss"])["epoch"]
    assert load_checkpoint(tmp_path / "run" / "best.pt")["epoch"] == best_epoch
    assert not list((tmp_path / "run").glob("*.partial"))


def test_progress_inside_epochs_is_logged_when_not_on_a_terminal(tmp_path, capsys):
    quiet = _fit(tmp_path / "quiet", epochs=2)
    shown = _fit(tmp_path / "shown", epochs=2, progress=True, log_every=2)
    assert shown == quiet  # progress reporting does not touch the run
    lines = capsys.readouterr().err.splitlines()
    steps = [line for line in lines if line.startswith("train epoch")]
    assert [line.split(":")[0] for line in steps] == ["train epoch 1/2", "train epoch 1/2", "train epoch 2/2", "train epoch 2/2"]
    assert steps[0].startswith("train epoch 1/2: 2/4 steps, ") and " steps/s, ETA 0:00:" in steps[0] and "loss=" in steps[0]
    epochs = [line for line in lines if line.startswith("train: ")]
    assert len(epochs) == 2 and epochs[-1].startswith("train: 2/2 epochs") and "val_loss=" in epochs[-1]


def test_progress_line_rate_and_time_left():
    from histalk_bench.common.progress import Progress, format_duration

    now = [0.0]
    progress = Progress(300, "faceformer", "frame", mode="log", every=1000, clock=lambda: now[0])
    now[0] = 10.0
    progress.update(100)
    assert progress.line() == "faceformer: 100/300 frames, 10 frames/s, ETA 0:00:20"
    assert format_duration(3725) == "1:02:05"
    assert Progress(5, enabled=False).mode == "off"
