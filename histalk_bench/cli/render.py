"""`histalk-bench render`: ground truth and predictions side by side, as an mp4 with audio."""

from __future__ import annotations

import click

from .options import OUTPUT_FILE, POSITIVE_FLOAT, POSITIVE_INT


@click.command("render")
@click.option("--data", "data", required=True, type=click.Path(dir_okay=False), help="Prepared cache (HDF5).")
@click.option("--pred", "preds", multiple=True, type=click.Path(dir_okay=False),
              help="Predictions HDF5 (repeat for several models).")
@click.option("--sequence", required=True, help="SUBJECT/SENTENCE to render.")
@click.option("--out", required=True, type=OUTPUT_FILE, help="Output mp4.")
@click.option("--condition", default=None, help="Speaker condition to show (default: the first stored).")
@click.option("--error-colors", is_flag=True, help="Colour predictions by per-vertex L2 error vs ground truth.")
@click.option("--error-max", type=POSITIVE_FLOAT, default=None,
              help="Top of the error colour scale in mesh units (default: 99th percentile).")
@click.option("--size", type=POSITIVE_INT, default=512, show_default=True, help="Panel size in pixels.")
@click.option("--backend", type=click.Choice(["auto", "pyrender", "matplotlib"]), default="auto", show_default=True)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def render(data, preds, sequence, out, condition, error_colors, error_max, size, backend, no_progress):
    """Render ground truth and each --pred side by side to an mp4 (H.264 + AAC), headless."""
    from ..rendering.render import render_sequence

    result = render_sequence(data, list(preds), sequence, out, condition=condition, error_colors=error_colors,
                             error_max=error_max, size=size, backend=backend, progress=not no_progress)
    click.echo(f"wrote {result.path}: {result.n_frames} frames at {result.fps:g} fps, panels: "
               f"{', '.join(result.labels)}; backend {result.backend} ({result.backend_reason}); "
               f"{result.seconds:.1f} s ({result.seconds_per_video_second:.2f} s per second of video)")
