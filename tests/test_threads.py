"""Thread count: --threads over OMP_NUM_THREADS over the CPUs this process may use."""

import os

import pytest

from histalk_bench.common.errors import UserError
from histalk_bench.common.threads import available_cpus, choose_threads, configure_threads


def test_precedence(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert choose_threads() == (available_cpus(), "CPUs available to this process")
    assert available_cpus() <= len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert choose_threads() == (3, "OMP_NUM_THREADS")
    assert choose_threads(5) == (5, "--threads")
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    with pytest.raises(UserError, match="OMP_NUM_THREADS"):
        choose_threads()
    with pytest.raises(UserError, match="--threads"):
        choose_threads(0)


def test_affinity_mask_limits_the_count(monkeypatch):
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert choose_threads()[0] == 1
    finally:
        os.sched_setaffinity(0, before)


def test_configure_exports_for_openmp_and_sets_passive_wait(monkeypatch):
    import torch

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    previous = torch.get_num_threads()
    try:
        assert configure_threads(1) == (1, "--threads")
        assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)
