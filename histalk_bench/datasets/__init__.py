"""Datasets: one reader per corpus, registered with its facts as a :class:`~.base.DatasetEntry`.

Add a dataset: one module with a ``read(root, options) -> Release`` function and a
``DatasetEntry``, plus one line below; ``histalk-bench prepare <name>`` then exists (the CLI
subcommands are generated from this registry) and the generic pipeline does the rest.
"""

from ..registry import Registry

DATASETS = Registry("dataset", contract="histalk_bench.datasets.base:check_dataset_entry")
DATASETS.register("vocaset", "histalk_bench.datasets.vocaset:VOCASET",
                  help="VOCASET: raw release (data_verts.npy, subj_seq_to_idx.pkl, raw_audio_fixed.pkl, templates.pkl) "
                       "or processed layout (vertices_npy/, wav/, templates.pkl), stored at 30 fps.")
DATASETS.register("biwi", "histalk_bench.datasets.biwi:BIWI",
                  help="BIWI processed layout (vertices_npy/<subject>_eNN.npy at 25 fps, wav/, templates.pkl).")
