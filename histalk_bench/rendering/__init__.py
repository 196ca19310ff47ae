"""Meshes -> images -> mp4 with audio.

Modules: ``geometry`` (framing, normals, shading), ``colors`` (per-vertex error colours),
``backend_matplotlib`` and ``backend_pyrender`` (one mesh -> one RGB panel), ``layout``
(panels side by side with labels and a colour bar), ``video`` (ffmpeg pipe, audio mux, probe).
The entry point is :func:`histalk_bench.rendering.render.render_sequence`.
"""
