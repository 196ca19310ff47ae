"""Entry point of the espeak-ng worker process: ``python -m histalk_bench.synth.speech_worker FOLDER``."""

import sys

from .speech import run_jobs

if __name__ == "__main__":
    run_jobs(sys.argv[1])
