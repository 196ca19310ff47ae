"""`histalk-bench train MODEL`: train a registered model on a prepared cache."""

import click

from .options import (
    DEVICE,
    OUTPUT_FOLDER,
    POSITIVE_FLOAT,
    POSITIVE_INT,
    check_inputs,
    given_labels,
    parse_set,
    threads_option,
)


@click.command("train")
@click.argument("model")
@click.option("--data", required=True, type=click.Path(), help="Prepared cache (.h5).")
@click.option("--out", required=True, type=OUTPUT_FOLDER, help="Run folder (checkpoints, config, history).")
@click.option("--epochs", type=POSITIVE_INT, default=None, help="Training epochs.")
@click.option("--batch-size", type=POSITIVE_INT, default=None)
@click.option("--lr", type=POSITIVE_FLOAT, default=None, help="Adam learning rate.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", type=DEVICE, default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ...")
@click.option("--features", default=None, help="Feature to train on (HiSTalk default: wav2vec2; or mel).")
@click.option("--wav2vec2-model", default=None,
              help="HiSTalk: local wav2vec2 folder to compute the wav2vec2 features the cache lacks; FaceFormer: folder "
                   "(or hub id) of the pretrained wav2vec2 weights (default facebook/wav2vec2-base-960h).")
@click.option("--units", type=click.Choice(["aligned", "statistical", "auto"]), default=None,
              help="HiSTalk units: forced-aligned tiers, SpeechFormer++ windows, or auto (tiers when every sequence has them; default).")
@click.option("--resume", is_flag=True, help="Continue from RUN/last.pt.")
@click.option("--amp", is_flag=True, help="Mixed precision (GPU only).")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile (GPU only).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Any model/training option, e.g. --set levels='[\"frame\",\"word\"]' --set use_cmg=false --set combine=d_only.")
@click.option("--allow-download", is_flag=True, help="FaceFormer: let the wav2vec2 weights be downloaded from the hub.")
@click.option("--quiet", is_flag=True, help="No progress (bar on a terminal, log lines otherwise).")
@threads_option
def train(model, data, out, epochs, batch_size, lr, seed, device, features, units, resume, amp, compile_, overrides,
          wav2vec2_model, allow_download, quiet, threads):
    """Train MODEL (histalk, faceformer, codetalker, selftalk, facediffuser) and write RUN_DIR/{config.json,history.jsonl,best.pt,last.pt}.

    Multi-GPU: torchrun --nproc_per_node N $(which histalk-bench) train ... (no code changes).
    """
    from ..common.threads import configure_threads

    check_inputs(data=data)
    set_options = parse_set(overrides)
    configure_threads(threads)
    from ..models.runs import train_run

    ctx = click.get_current_context()
    given, labels = given_labels(ctx, set_options, "epochs", "batch_size", "lr", "seed", "device", "features", "units",
                                 "wav2vec2_model", "allow_download", "amp", "compile_", "resume")
    if "compile_" in given:
        given["compile"] = given.pop("compile_")
    options = {"seed": seed, "device": device, "resume": resume, "amp": amp, "compile": compile_, "progress": not quiet,
               **given}
    run_dir = train_run(model, data, out, options, given=given, labels=labels)
    click.echo(f"trained {model}: {run_dir}")
