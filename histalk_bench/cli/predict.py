"""`histalk-bench predict`: predictions for a split of a cache, or for a new audio file."""

import click

from .options import (
    DEVICE,
    OUTPUT_FILE,
    check_inputs,
    explicit,
    refuse_unused,
    threads_option,
)


@click.command("predict")
@click.option("--model", default="histalk", show_default=True, help="Registered model name.")
@click.option("--run", "run_dir", default=None, type=click.Path(file_okay=False), help="Run folder of a trained model.")
@click.option("--checkpoint", default=None, type=click.Path(dir_okay=False), help="A checkpoint file (e.g. official vocaset.pth).")
@click.option("--vq-checkpoint", default=None, type=click.Path(dir_okay=False),
              help="codetalker: the stage-1 VQ-VAE file (e.g. official vocaset_stage1.pth.tar) beside --checkpoint.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Stochastic models (facediffuser): the sampling seed (default: the model's documented one; recorded).")
@click.option("--data", default=None, type=click.Path(), help="Prepared cache (.h5).")
@click.option("--split", default="test", show_default=True)
@click.option("--audio", default=None, type=click.Path(dir_okay=False), help="Predict for this audio file instead of a split.")
@click.option("--template", default=None, help="With --audio: a subject of the cache, or a .npy/.ply/.obj neutral mesh.")
@click.option("--condition", default=None,
              help="With --audio: the training speaker whose style to use, or 'all' (default: the first, reported).")
@click.option("--out", required=True, type=OUTPUT_FILE, help="predictions .h5 (or .npy with --audio).")
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--transcript", default=None, help="With --audio: the words spoken (aligned units: an aligner segments the audio).")
@click.option("--transcript-file", default=None, type=click.Path(dir_okay=False, exists=True), help="With --audio: a text file holding the transcript.")
@click.option("--aligner", default="pocketsphinx", show_default=True, help="With --transcript: aligner (pocketsphinx, mfa, auto).")
@click.option("--wav2vec2-model", default=None, help="Local wav2vec2 folder for features computed on the fly (same weights as training).")
@click.option("--frames", type=click.Choice(["audio", "gt"]), default=None,
              help="faceformer, codetalker, selftalk, facediffuser: frame count from the audio as the official code (default) "
                   "or the ground truth's.")
@click.option("--seen-conditions", type=click.Choice(["own", "all"]), default=None,
              help="codetalker: a training subject (BIWI Test-A) conditioned on itself as the official test (default) "
                   "or on every training speaker.")
@click.option("--backbone", default="auto", show_default=True, type=click.Choice(["auto", "fp32", "int8", "int8-cnn"]),
              help="With --audio: wav2vec2 backbone precision (auto = int8 Linear layers for HiSTalk; see docs/models.md).")
@threads_option
def predict(model, run_dir, checkpoint, vq_checkpoint, seed, data, split, audio, template, condition, out, device, wav2vec2_model, frames,
            seen_conditions, backbone, threads, transcript, transcript_file, aligner):
    """Write predicted vertices in the predictions format that `evaluate` reads."""
    from ..common.errors import UserError

    check_inputs(run_dir=run_dir, checkpoint=checkpoint, data=data, audio=audio, template=template)
    check_inputs(checkpoint=vq_checkpoint)
    model_options = {"vq_checkpoint": vq_checkpoint, "seed": seed}
    if audio and not out.endswith((".npy", ".h5", ".hdf5")):
        raise UserError("--out must end in .npy or .h5", out)
    if not audio and not data:
        raise UserError("--data CACHE.h5 is required unless --audio is given")
    from ..common.threads import configure_threads

    configure_threads(threads)
    if transcript is not None and transcript_file:
        raise UserError("give --transcript or --transcript-file, not both")
    if transcript_file:
        from pathlib import Path

        transcript = Path(transcript_file).read_text(encoding="utf-8")
    if transcript is not None and not audio:
        raise UserError("--transcript goes with --audio (cached sequences use the cache's tiers)")
    ctx = click.get_current_context()
    if not audio:
        refuse_unused("with --audio (a split uses the cache's templates, speakers and features)",
                      **explicit(ctx, "template", "condition", "backbone", "aligner"))
    elif transcript is None:
        refuse_unused("with --transcript", **explicit(ctx, "aligner"))
    if audio:
        refuse_unused("on a split (new audio has no ground truth: its frame count comes from the audio)", frames=frames)
        refuse_unused("on a split (with --audio, --condition chooses the speaker)", seen_conditions=seen_conditions)
        from ..predict.audio import predict_audio

        paths, result = predict_audio(model, audio, template, out, data=data, run_dir=run_dir, checkpoint=checkpoint,
                                      condition=condition, device=device, wav2vec2_model=wav2vec2_model,
                                      backbone=backbone, transcript=transcript, aligner=aligner,
                                      model_options=model_options)
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        click.echo(f"wrote {', '.join(str(p) for p in paths)} ({result.audio_seconds:.1f} s of audio, "
                   f"RTF {result.rtf:.3f})")
        return
    from ..cache import Cache
    from ..predict.split import predict_split

    with Cache(data) as cache:
        extra = {**model_options, "wav2vec2_model": wav2vec2_model}
        if frames:
            extra["frames"] = frames
        if seen_conditions:
            extra["seen_conditions"] = seen_conditions
        path, n = predict_split(model, cache, split, out, run_dir=run_dir, checkpoint=checkpoint, device=device,
                                options=extra)
    click.echo(f"wrote {path} ({n} sequences)")
