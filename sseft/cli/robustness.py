"""`sseft robustness MODEL --store STORE --out DIR`: missing modalities, noise curves on features
(and on raw media with --raw), relative/effective robustness and each modality's contribution.

    sseft robustness meld-text --store features/meld --out rob/
    sseft robustness meld-text --store features/meld --baseline meld-late --compare meld-text-drop --out rob/
    sseft robustness meld-text --store features/meld --raw data/meld --raw-dataset meld --limit 200 --out rob/

Writes robustness.json, robustness.md, noise_<kind>.png, missing.png (and raw_<kind>.png) in --out.
Every option but --store, --baseline and --compare is a RobustnessConfig field (core/robustness/config.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .groups import comma_list

DIR = click.Path(file_okay=False, path_type=Path)


@click.command("robustness")
@click.argument("model_ref", metavar="MODEL")
@click.option("--store", required=True, type=DIR, help="Feature store to evaluate on.")
@click.option("--split", default="test", show_default=True, help="Store split.")
@click.option("--out", required=True, type=DIR, help="Output folder.")
@click.option("--metric", help="Metric (default: the head's primary metric).")
@click.option("--baseline", metavar="MODEL", help="Late-fusion reference for effective robustness.")
@click.option(
    "--compare", "compare_ref", metavar="MODEL", help="Second model: paired bootstrap of curve areas."
)
@click.option("--kinds", callback=comma_list,
              help="Feature noise kinds (comma list; default gaussian,frame_drop,temporal_mask).")  # fmt: skip
@click.option("--levels", "n_levels", default=10, show_default=True, help="Noise levels i/n, i = 0..n-1.")
@click.option("--seed", default=0, show_default=True, help="Noise and bootstrap seed.")
@click.option("--raw", type=click.Path(path_type=Path), help="Manifest or dataset root for raw-level noise.")
@click.option("--raw-dataset", help="Dataset plugin of --raw (default: manifest for a file).")
@click.option("--raw-kinds", callback=comma_list,
              help="Raw noise kinds (comma list; default per input kind).")  # fmt: skip
@click.option("--raw-split", help="Split name in --raw when it differs from --split (MELD dev: valid).")
@click.option("--raw-set", "raw_options", multiple=True, metavar="KEY=VALUE",
              help="Option of the --raw dataset plugin (modalities=[text]).")  # fmt: skip
@click.option("--limit", type=int, help="Raw-level noise on the first N items of the split.")
@click.option(
    "--set", "overrides", multiple=True, metavar="MOD.FIELD=VALUE", help="Extractor override for --raw."
)
@click.option("--n-boot", default=1000, show_default=True, help="Bootstrap resamples for --compare.")
@click.option("--batch-size", default=64, show_default=True)
@click.option("--device", default="cpu", show_default=True)
def robustness_command(
    model_ref: str, store: Path, baseline: str | None, compare_ref: str | None, **options: Any
) -> None:
    """How MODEL degrades with missing modalities and noise, and which modality carries it."""
    from sseft.api import robustness as run

    # Unset options (None, no --raw-set): the config's defaults.
    given: dict[str, Any] = {
        k: list(v) if isinstance(v, tuple) else v for k, v in options.items() if v not in (None, ())
    }
    progress = lambda s: click.echo(f"  {s}", err=True)  # noqa: E731
    res = run(model_ref, store, baseline=baseline, compare=compare_ref, progress=progress, **given)
    click.echo(res.summary())  # the files were written to --out by the run
    files = res.files
    click.echo(f"wrote {len(files)} files to {options['out']} (robustness.md, robustness.json, PNGs)")
