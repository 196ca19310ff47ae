"""`histalk-bench predict`: predictions for a split of a cache, or for a new audio file."""

import click

from .options import DEVICE, OUTPUT_FILE


@click.command("predict")
@click.option("--model", default="histalk", show_default=True, help="Registered model name.")
@click.option("--run", "run_dir", default=None, type=click.Path(file_okay=False), help="Run folder of a trained model.")
@click.option("--checkpoint", default=None, type=click.Path(dir_okay=False), help="A checkpoint file (e.g. official vocaset.pth).")
@click.option("--data", default=None, type=click.Path(), help="Prepared cache (.h5).")
@click.option("--split", default="test", show_default=True)
@click.option("--audio", default=None, type=click.Path(dir_okay=False), help="Predict for this audio file instead of a split.")
@click.option("--template", default=None, help="With --audio: a subject of the cache, or a .npy/.ply neutral mesh.")
@click.option("--condition", default=None, help="With --audio: the training speaker whose style to use.")
@click.option("--out", required=True, type=OUTPUT_FILE, help="predictions .h5 (or .npy with --audio).")
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--wav2vec2-model", default=None, help="Local wav2vec2 folder for features computed on the fly (same weights as training).")
@click.option("--frames", type=click.Choice(["audio", "gt"]), default=None,
              help="faceformer: frame count from the audio as the official test (default) or the ground truth's.")
def predict(model, run_dir, checkpoint, data, split, audio, template, condition, out, device, wav2vec2_model, frames):
    """Write predicted vertices in the predictions format that `evaluate` reads."""
    from ..cache import Cache
    from ..common.errors import UserError
    from ..predict.split import predict_split

    if audio:
        if frames == "gt":
            raise UserError("--frames gt needs a split (new audio has no ground truth)")
        from ..predict.audio import predict_audio

        path = predict_audio(model, audio, template, out, data=data, run_dir=run_dir, checkpoint=checkpoint,
                             condition=condition, device=device, wav2vec2_model=wav2vec2_model)
        click.echo(f"wrote {path}")
        return
    if not data:
        raise UserError("--data CACHE.h5 is required unless --audio is given")
    with Cache(data) as cache:
        extra = {"wav2vec2_model": wav2vec2_model} if wav2vec2_model else {}
        if frames:
            extra["frames"] = frames
        path, n = predict_split(model, cache, split, out, run_dir=run_dir, checkpoint=checkpoint, device=device,
                                options=extra)
    click.echo(f"wrote {path} ({n} sequences)")
