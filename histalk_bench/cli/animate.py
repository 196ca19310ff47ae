"""`histalk-bench animate`: one command from a wav to a video of the predicted talking head."""

from __future__ import annotations

import click

from .options import DEVICE, OUTPUT_FILE, OUTPUT_FOLDER, POSITIVE_INT, check_inputs, threads_option


@click.command("animate")
@click.argument("audio", type=click.Path(dir_okay=False))
@click.option("--run", "run_dir", default=None, type=click.Path(file_okay=False), help="Run folder of a trained model.")
@click.option("--model", default="histalk", show_default=True, help="Registered model name (histalk, faceformer, codetalker, selftalk, facediffuser).")
@click.option("--checkpoint", default=None, type=click.Path(dir_okay=False),
              help="A checkpoint file instead of --run (e.g. FaceFormer's official vocaset.pth).")
@click.option("--vq-checkpoint", default=None, type=click.Path(dir_okay=False),
              help="codetalker: the stage-1 VQ-VAE file beside --checkpoint (e.g. official vocaset_stage1.pth.tar).")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Stochastic models (facediffuser): the sampling seed (default: the model's documented one).")
@click.option("--template", default=None,
              help="Neutral face: a subject of the cache, or a .npy/.ply/.obj mesh (default: the run's cache, "
                   "first training speaker).")
@click.option("--data", default=None, type=click.Path(dir_okay=False),
              help="Prepared cache for --template SUBJECT, triangles and --plot (default: the cache the run recorded).")
@click.option("--faces", default=None, type=click.Path(dir_okay=False), help="A .ply/.obj mesh whose triangles to draw.")
@click.option("--condition", default=None,
              help="Training speaker whose style to use, or 'all' for one panel each (default: the first, reported).")
@click.option("--transcript", default=None,
              help="What is said: HiSTalk then takes its phone/word units from a pocketsphinx forced alignment "
                   "(default: statistical windows).")
@click.option("--out", required=True, type=OUTPUT_FILE, help="Output video (.mp4).")
@click.option("--save-npy", default=None, type=OUTPUT_FILE,
              help="Also write the vertices: (T, V*3) .npy, or a predictions .h5 that 'render' reads.")
@click.option("--save-obj", default=None, type=OUTPUT_FOLDER,
              help="Also write one .obj per frame into this folder (a mesh sequence for Blender).")
@click.option("--plot", default=None, type=OUTPUT_FILE,
              help="Also write a PNG of the mouth opening over time under the audio level.")
@click.option("--size", type=click.IntRange(64, 4096), default=512, show_default=True, help="Panel size in pixels.")
@click.option("--backend", type=click.Choice(["auto", "pyrender", "numpy", "matplotlib"]), default="auto",
              show_default=True, help="Renderer.")
@click.option("--workers", type=POSITIVE_INT, default=None,
              help="Processes rendering frames (default: the CPUs available, at most 4).")
@click.option("--backbone", default="auto", show_default=True, type=click.Choice(["auto", "fp32", "int8", "int8-cnn"]),
              help="wav2vec2 backbone precision (auto = int8 Linear layers for HiSTalk; see docs/models.md).")
@click.option("--wav2vec2-model", default=None, help="Local wav2vec2 folder (the weights the run was trained with).")
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@threads_option
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def animate(audio, run_dir, model, checkpoint, vq_checkpoint, seed, template, data, faces, condition, transcript, out, save_npy, save_obj, plot, size,
            backend, workers, backbone, wav2vec2_model, device, threads, no_progress):
    """Animate AUDIO (any sample rate) with a trained model: predict, render with the audio muxed in."""
    from ..common.errors import UserError

    if not run_dir and not checkpoint:
        raise UserError("give --run RUN_DIR (a trained run) or --checkpoint FILE")
    if not out.endswith(".mp4"):
        raise UserError("--out must be an .mp4 file", out)
    if save_npy and not save_npy.endswith((".npy", ".h5", ".hdf5")):
        raise UserError("--save-npy must end in .npy or .h5", save_npy)
    if plot and not plot.endswith((".png", ".pdf", ".svg")):
        raise UserError("--plot must end in .png, .pdf or .svg", plot)
    check_inputs(run_dir=run_dir, checkpoint=checkpoint, data=data, audio=audio, template=template, faces=faces)
    check_inputs(checkpoint=vq_checkpoint)
    from ..common.threads import configure_threads

    n_threads, source = configure_threads(threads)
    from ..predict.animate import AnimateOptions
    from ..predict.animate import animate as run

    options = AnimateOptions(model=model, run_dir=run_dir, checkpoint=checkpoint, vq_checkpoint=vq_checkpoint,
                             seed=seed, template=template, data=data,
                             faces=faces, condition=condition, device=device, wav2vec2_model=wav2vec2_model,
                             backbone=backbone, size=size, render_backend=backend, workers=workers, save_npy=save_npy,
                             save_obj=save_obj, plot=plot, progress=not no_progress,
                             transcript=transcript)
    result = run(audio, out, options)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    prediction, rendered = result.prediction, result.render
    click.echo(f"predicted {prediction.audio_seconds:.1f} s of audio with {prediction.model} in "
               f"{prediction.compute_seconds:.2f} s (RTF {prediction.rtf:.3f}, {n_threads} thread(s) from {source})")
    click.echo(f"wrote {result.video}: {rendered.n_frames} frames at {rendered.fps:g} fps, panels: "
               f"{', '.join(rendered.labels)}; backend {rendered.backend}, {rendered.workers} worker(s), "
               f"{rendered.seconds_per_video_second:.2f} s per second of video")
    for path in result.written:
        click.echo(f"wrote {path}")
