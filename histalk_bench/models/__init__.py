"""Model registry.  Each entry is a module exposing::

    DESCRIPTION: str
    load_predictor(cache, run_dir=None, checkpoint=None, **options) -> Predictor
    train(cache_path, out_dir, **options) -> Path        # only for trainable models

Targets are imported lazily, so registering a torch model costs nothing at CLI start-up.
"""

from ..registry import Registry

MODELS = Registry("model")
MODELS.register("static", "histalk_bench.models.baselines_static", help="template, no motion (floor)")
MODELS.register("mean", "histalk_bench.models.baselines_mean", help="template + mean training displacement")
MODELS.register("histalk", "histalk_bench.models.histalk.api", help="HiSTalk (hierarchical, CMG + HSF2S + S2D)")
MODELS.register("faceformer", "histalk_bench.models.faceformer.api", help="FaceFormer (Fan et al., CVPR 2022)")
