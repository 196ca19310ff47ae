"""Progress without a terminal: a few lines, with rate and time left, the last always."""

from __future__ import annotations

import logging

from histalk_bench.common.progress import Progress, progress_logger


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _run(total: int, seconds_per_step: float, **kwargs) -> list[str]:
    """The log lines of a loop of ``total`` steps taking ``seconds_per_step`` each (a simulated clock)."""
    now = [0.0]
    handler = _Lines()
    logger = progress_logger()
    logger.addHandler(handler)
    try:
        progress = Progress(total, "predict static", "sequence", mode="log", clock=lambda: now[0], **kwargs)
        for _ in range(total):
            now[0] += seconds_per_step
            progress.update()
        progress.close()
    finally:
        logger.removeHandler(handler)
    return handler.lines


def test_a_fast_loop_logs_only_its_last_line():
    """Before: 8 sequences in 2 s gave 8 lines (24 for the demo's three models)."""
    lines = _run(8, 0.25)
    assert lines == ["predict static: 8/8 sequences, 4 sequences/s, ETA 0:00:00"]


def test_a_slow_loop_logs_at_most_every_5_s_and_every_tenth_of_the_work():
    lines = _run(1000, 1.0)  # 1000 s: every 10 % (100 s) is the binding limit
    assert len(lines) == 10 and lines[0] == "predict static: 100/1000 sequences, 1 sequences/s, ETA 0:15:00"
    assert lines[-1].startswith("predict static: 1000/1000 sequences")
    lines = _run(20, 2.0)  # 40 s, 2 s per step: 5 s is the binding limit (every 3rd step), then the last
    assert [line.split()[2] for line in lines] == ["3/20", "6/20", "9/20", "12/20", "15/20", "18/20", "20/20"]
    assert all("sequences/s, ETA" in line for line in lines)


def test_every_asks_for_a_line_every_n_steps():
    assert len(_run(8, 0.01, every=2)) == 4
