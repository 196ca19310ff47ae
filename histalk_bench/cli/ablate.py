"""`histalk-bench ablate`: train, score and compare HiSTalk variants over several seeds."""

import click

from .options import DEVICE, OUTPUT_FOLDER, POSITIVE_INT, parse_set

DEFAULT_VARIANTS = "default,hsf2s=speechformer,levels=frame,use_se_gate=false,use_cmg=false,combine=c_only"


@click.command("ablate")
@click.option("--data", required=True, type=click.Path(), help="Prepared cache (.h5) with train, val and test splits.")
@click.option("--out", required=True, type=OUTPUT_FOLDER, help="Folder for runs, ablation.csv/.md/.png.")
@click.option("--variants", default=DEFAULT_VARIANTS, show_default=True,
              help="Comma-separated variants: 'default' or KEY=VALUE (several joined by ';'; list values by '+', e.g. levels=frame+word).")
@click.option("--seeds", type=POSITIVE_INT, default=3, show_default=True, help="Seeds per variant (0..N-1).")
@click.option("--epochs", type=POSITIVE_INT, default=None, help="Training epochs of every run.")
@click.option("--features", default=None, help="Feature to train on (default: HiSTalk's, wav2vec2).")
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Option applied to every variant (as in train).")
def ablate(data, out, variants, seeds, epochs, features, device, overrides):
    """Train each variant per seed (finished runs are reused), score the test split and write a
    table with the paired bootstrap interval of each variant's difference to the default."""
    from .options import check_inputs

    check_inputs(data=data)
    from ..evaluate.ablation import check_variants, parse_variants, run_ablation

    base = {"device": device, "progress": False}
    if epochs is not None:
        base["epochs"] = epochs
    if features:
        base["features"] = features
    base.update(parse_set(overrides))
    chosen = parse_variants(variants)
    check_variants(data, chosen, base)
    rows = run_ablation(data, out, chosen, seeds, base)
    for row in rows:
        delta = f"  dLVE {row['d_lve']:+.3e} [{row['d_lve_low']:+.3e}, {row['d_lve_high']:+.3e}]" if "d_lve" in row else ""
        click.echo(f"{row['variant']:28s} LVE {row['lve_mean']:.3e} ± {row['lve_std']:.2e}{delta}")
    click.echo(f"wrote {out}/ablation.csv, ablation.md, ablation.png")
