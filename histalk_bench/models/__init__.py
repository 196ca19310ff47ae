"""Model registry: each entry is a :class:`histalk_bench.models.base.ModelEntry` subclass.

Add a model: one module with a ``ModelEntry`` subclass (``load_predictor``, optionally ``train``
and ``load_audio_predictor``), plus one line below.  Targets are imported lazily, so registering
a torch model costs nothing at CLI start-up; the contract is checked on first look-up.
"""

from ..registry import Registry

MODELS = Registry("model", contract="histalk_bench.models.base:check_model_entry")
MODELS.register("static", "histalk_bench.models.baselines.static:StaticEntry", help="template, no motion (floor)")
MODELS.register("mean", "histalk_bench.models.baselines.mean:MeanEntry", help="template + mean training displacement")
MODELS.register("histalk", "histalk_bench.models.histalk.api:HiSTalkEntry", help="HiSTalk (hierarchical, CMG + HSF2S + S2D)")
MODELS.register("faceformer", "histalk_bench.models.faceformer.api:FaceFormerEntry", help="FaceFormer (Fan et al., CVPR 2022)")
MODELS.register("codetalker", "histalk_bench.models.codetalker.api:CodeTalkerEntry", help="CodeTalker (Xing et al., CVPR 2023)")
MODELS.register("facediffuser", "histalk_bench.models.facediffuser.api:FaceDiffuserEntry", help="FaceDiffuser (Stan et al., MIG 2023; stochastic, seeded)")
MODELS.register("selftalk", "histalk_bench.models.selftalk.api:SelfTalkEntry", help="SelfTalk (Peng et al., ACM MM 2023)")
