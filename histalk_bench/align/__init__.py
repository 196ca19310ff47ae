"""Forced aligners: every backend returns the same phones/words tiers.

Add an aligner: one module with a class following :class:`histalk_bench.align.base.Aligner`
(subclass ``AlignerBase`` and implement ``align(request) -> Alignment``), plus one line below.
The registry checks the class against the contract when it is first looked up.
"""

from ..registry import Registry

ALIGNERS = Registry("aligner", contract="histalk_bench.align.base:check_aligner")
ALIGNERS.register("auto", "histalk_bench.align.factory:AutoAligner", help="mfa when an 'mfa' executable and a transcript exist, else pocketsphinx")
ALIGNERS.register("none", "histalk_bench.align.base:NoAligner", help="store no alignment")
ALIGNERS.register("oracle", "histalk_bench.align.oracle:OracleAligner", help="synthetic corpus ground truth")
ALIGNERS.register("textgrid", "histalk_bench.align.textgrid:TextGridAligner", help="import TextGrids: textgrid:DIR")
ALIGNERS.register("mfa", "histalk_bench.align.mfa:MFAAligner", help="Montreal Forced Aligner (external 'mfa')")
ALIGNERS.register("pocketsphinx", "histalk_bench.align.pocketsphinx:PocketSphinxAligner", help="offline, bundled model")
