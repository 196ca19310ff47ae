"""`histalk-bench render`: ground truth and predictions side by side, as an mp4 with audio."""

from __future__ import annotations

import click

from .options import OUTPUT_FILE, POSITIVE_FLOAT, POSITIVE_INT


@click.command("render")
@click.option("--data", "data", default=None, type=click.Path(dir_okay=False),
              help="Prepared cache (HDF5): ground truth with --sequence; else only its faces.")
@click.option("--pred", "preds", multiple=True, type=click.Path(dir_okay=False),
              help="Predictions .h5 (repeat for several models), or without --sequence a .npy that "
                   "'predict --audio' wrote.")
@click.option("--sequence", default=None,
              help="SUBJECT/SENTENCE of the cache to render; omit for predictions of new audio.")
@click.option("--out", required=True, type=OUTPUT_FILE, help="Output mp4.")
@click.option("--condition", default=None, help="Speaker condition to show, or 'all' (default: the first stored).")
@click.option("--audio", default=None, type=click.Path(dir_okay=False),
              help="Without --sequence: the audio to mux in (default: the file recorded in the .h5).")
@click.option("--faces", default=None, type=click.Path(dir_okay=False),
              help="Without --sequence: a mesh file (.ply/.obj) whose triangles to draw (or --data CACHE).")
@click.option("--fps", type=POSITIVE_FLOAT, default=None, help="Without --sequence: frame rate of .npy input (default 30).")
@click.option("--error-colors", is_flag=True, help="Colour predictions by per-vertex L2 error vs ground truth.")
@click.option("--error-max", type=POSITIVE_FLOAT, default=None,
              help="Top of the error colour scale in mesh units (default: 99th percentile).")
@click.option("--size", type=POSITIVE_INT, default=512, show_default=True, help="Panel size in pixels.")
@click.option("--backend", type=click.Choice(["auto", "pyrender", "numpy", "matplotlib"]), default="auto",
              show_default=True)
@click.option("--workers", type=POSITIVE_INT, default=None,
              help="Processes rendering frames (default: the CPUs available, at most 4).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def render(data, preds, sequence, out, condition, audio, faces, fps, error_colors, error_max, size, backend, workers,
           no_progress):
    """Render ground truth and each --pred side by side to an mp4 (H.264 + AAC), headless.

    With --sequence: a cached sequence (--data) and its predictions.  Without: predictions of
    new audio ('predict --audio' .h5 or .npy, 'animate --save-npy'), no ground truth."""
    from ..common.errors import UserError

    if sequence:
        if not data:
            raise UserError("--sequence needs --data CACHE.h5")
        if audio or faces or fps:
            raise UserError("--audio, --faces and --fps are for predictions of new audio (without --sequence)")
        from ..rendering.render import render_sequence

        result = render_sequence(data, list(preds), sequence, out, condition=condition, error_colors=error_colors,
                                 error_max=error_max, size=size, backend=backend, workers=workers,
                                 progress=not no_progress)
    else:
        if not preds:
            raise UserError("give --sequence SUBJECT/SENTENCE (with --data), or --pred files of new audio")
        if error_colors or error_max is not None:
            raise UserError("--error-colors needs ground truth: give --data and --sequence")
        from ..rendering.render import render_new_audio

        result = render_new_audio(list(preds), out, audio=audio, faces=faces, data=data, condition=condition, fps=fps,
                                  size=size, backend=backend, workers=workers, progress=not no_progress)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {result.path}: {result.n_frames} frames at {result.fps:g} fps, panels: "
               f"{', '.join(result.labels)}; backend {result.backend} ({result.backend_reason}), "
               f"{result.workers} worker(s); {result.seconds:.1f} s "
               f"({result.seconds_per_video_second:.2f} s per second of video)")
