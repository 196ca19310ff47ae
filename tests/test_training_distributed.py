"""The shared training loop under torchrun (two CPU processes, gloo): DistributedDataParallel
without code changes."""

import json
import socket
import subprocess
import sys

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_torchrun_two_processes(vocaset_cache, tmp_path):
    run = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                             "127.0.0.1", "--master_port", str(_free_port()), "-m", "histalk_bench.cli.main", "train",
                             "histalk", "--data", str(vocaset_cache), "--out", str(run), "--epochs", "2", "--quiet", "--features", "mel",
                             "--set", "d_model=16"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [0, 1]  # written once, by rank 0
    assert (run / "best.pt").exists() and (run / "last.pt").exists()
