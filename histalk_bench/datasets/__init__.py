"""Dataset recipes: one ``prepare_<name>()`` per corpus."""

from ..registry import Registry

DATASETS = Registry("dataset")
DATASETS.register("vocaset", "histalk_bench.datasets.vocaset:prepare_vocaset", help="VOCASET raw release or processed layout")
DATASETS.register("biwi", "histalk_bench.datasets.biwi:prepare_biwi", help="BIWI processed layout")
