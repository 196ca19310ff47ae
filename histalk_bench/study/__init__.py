"""Blinded A/B user studies built from ``compare``'s rendered sequences.

``design`` (which clips each trial shows, sides balanced per pair, attention checks), ``build``
(the served folder of static pages and media, and the key kept outside it), ``answers`` (reading
and checking answer files), ``serve`` (a local standard-library server that stores answers),
``results`` (preference rates, Wilson intervals, exact binomial tests).
"""
