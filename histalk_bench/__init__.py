"""histalk-bench: speech-driven 3D talking-head animation research toolkit.

Data flow: raw corpus -> ``prepare`` -> cache.h5 -> ``train`` -> run dir -> ``predict``
-> predictions.h5 -> ``evaluate`` -> scores.json -> ``compare``/``leaderboard``.
"""

__version__ = "0.1.0"
