"""Shared fixtures: small synthetic corpora and prepared caches, made once per test session."""

import os
from pathlib import Path

import pytest

# ../shared/reference beside the checkout; HISTALK_REFERENCE overrides it (e.g. from a git worktree)
REFERENCE = Path(os.environ.get("HISTALK_REFERENCE") or Path(__file__).resolve().parents[2] / "shared" / "reference")


@pytest.fixture(scope="session")
def vocaset_corpus(tmp_path_factory):
    from histalk_bench.synth import write_synthetic_corpus

    return write_synthetic_corpus(tmp_path_factory.mktemp("voca") / "corpus", "vocaset", n_subjects=4, n_sentences=4, seed=1)


@pytest.fixture(scope="session")
def biwi_corpus(tmp_path_factory):
    from histalk_bench.synth import write_synthetic_corpus

    return write_synthetic_corpus(tmp_path_factory.mktemp("biwi") / "corpus", "biwi", n_subjects=3, n_sentences=5, seed=2)


@pytest.fixture(scope="session")
def vocaset_cache(vocaset_corpus, tmp_path_factory):
    from histalk_bench.datasets.prepare import prepare_vocaset

    path = tmp_path_factory.mktemp("voca_cache") / "cache.h5"
    prepare_vocaset(vocaset_corpus, path, aligner="oracle", features="mel", progress=False)
    return path


@pytest.fixture
def reference():
    if not REFERENCE.is_dir():
        pytest.skip("../shared/reference is not present (it is not part of the project)")
    return REFERENCE
