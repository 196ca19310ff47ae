"""`histalk-bench train MODEL`: train a registered model on a prepared cache."""

import click


def _parse_value(text: str):
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


@click.command("train")
@click.argument("model")
@click.option("--data", required=True, type=click.Path(), help="Prepared cache (.h5).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (checkpoints, config, history).")
@click.option("--epochs", type=int, default=None, help="Training epochs.")
@click.option("--batch-size", type=int, default=None)
@click.option("--lr", type=float, default=None, help="Adam learning rate.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ...")
@click.option("--features", default=None, help="Cached feature to train on (mel, wav2vec2).")
@click.option("--units", type=click.Choice(["aligned", "statistical"]), default=None,
              help="HiSTalk units: forced-aligned tiers (default when present) or SpeechFormer++ windows.")
@click.option("--resume", is_flag=True, help="Continue from RUN/last.pt.")
@click.option("--amp", is_flag=True, help="Mixed precision (GPU only).")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile (GPU only).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Any model/training option, e.g. --set levels='[\"frame\",\"word\"]' --set use_cmg=false --set combine=d_only.")
@click.option("--wav2vec2-model", default=None,
              help="FaceFormer: folder (or hub id) of the pretrained wav2vec2 weights (default facebook/wav2vec2-base-960h).")
@click.option("--allow-download", is_flag=True, help="FaceFormer: let the wav2vec2 weights be downloaded from the hub.")
@click.option("--quiet", is_flag=True, help="No progress (bar on a terminal, log lines otherwise).")
def train(model, data, out, epochs, batch_size, lr, seed, device, features, units, resume, amp, compile_, overrides,
          wav2vec2_model, allow_download, quiet):
    """Train MODEL (histalk, faceformer) and write RUN_DIR/{config.json,history.jsonl,best.pt,last.pt}.

    Multi-GPU: torchrun --nproc_per_node N $(which histalk-bench) train ... (no code changes).
    """
    from ..common.errors import UserError
    from ..models.base import model_entry

    entry = model_entry(model)
    if not entry.trainable:
        raise UserError(f"model '{model}' is not trainable (it predicts from the cache alone)")
    options = {"seed": seed, "device": device, "resume": resume, "amp": amp, "compile": compile_, "progress": not quiet}
    for key, value in (("epochs", epochs), ("batch_size", batch_size), ("lr", lr), ("features", features), ("units", units),
                       ("wav2vec2_model", wav2vec2_model), ("allow_download", allow_download or None)):
        if value is not None:
            options[key] = value
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--set expects KEY=VALUE, got '{item}'")
        options[key.strip().replace("-", "_")] = _parse_value(value)
    run_dir = entry.train(data, out, **options)
    click.echo(f"trained {model}: {run_dir}")
