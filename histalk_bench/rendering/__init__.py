"""Meshes -> images -> mp4 with audio.

Modules: ``geometry`` (framing, normals, shading), ``colors`` (per-vertex error colours),
``backend_numpy``, ``backend_matplotlib`` and ``backend_pyrender`` (one mesh -> one RGB panel),
``layout`` (panels side by side with labels and a colour bar), ``frames`` (frames in order, in
this process or a pool of worker processes), ``inputs`` (what a video shows, read from a cache,
predictions .h5 or .npy files), ``video`` (ffmpeg pipe, audio mux, probe).
Entry points: :func:`histalk_bench.rendering.render.render_sequence`, ``render_new_audio`` and
``render_panels``.
"""
