"""How many threads torch should use: the CPUs this process may run on, not the machine's.

Order of precedence: ``--threads N`` > ``OMP_NUM_THREADS`` > CPUs in this process's affinity
mask (``os.sched_getaffinity``) capped by a cgroup CPU quota (containers).  Call
:func:`configure_threads` before torch is imported: it also sets ``OMP_WAIT_POLICY=PASSIVE``
(unless set), so idle OpenMP threads sleep instead of spinning on cores that another process
needs, which is what makes two torch processes on the same cores collapse.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from .errors import UserError

log = logging.getLogger(__name__)


def available_cpus() -> int:
    """CPUs this process may run on (affinity mask, then cgroup v2/v1 quota), at least 1."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(count, quota) if quota else count)


def _cgroup_quota() -> int | None:
    """CPUs allowed by a cgroup quota (rounded up), or None when unlimited or unknown."""
    try:
        text = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if text and text[0] != "max":
            return max(1, -(-int(text[0]) // int(text[1])))
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return max(1, -(-quota // period)) if quota > 0 else None
    except (OSError, ValueError):
        return None


def choose_threads(requested: int | None = None) -> tuple[int, str]:
    """(threads, where the number came from)."""
    if requested is not None:
        if int(requested) < 1:
            raise UserError(f"--threads must be at least 1, got {requested}")
        return int(requested), "--threads"
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env:
        try:
            if int(env) >= 1:
                return int(env), "OMP_NUM_THREADS"
        except ValueError:
            pass
        raise UserError(f"OMP_NUM_THREADS must be a positive integer, got '{env}'")
    return available_cpus(), "CPUs available to this process"


def configure_threads(requested: int | None = None) -> tuple[int, str]:
    """Choose the thread count, export it for OpenMP/MKL and apply it to torch when loaded or later.

    Call before importing torch (idle OpenMP threads then sleep); returns (threads, source)."""
    threads, source = choose_threads(requested)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if requested is not None or "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        os.environ["MKL_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    log.info("torch threads: %d (%s)", threads, source)
    return threads, source

