"""`sseft robustness MODEL --store STORE --out DIR`: missing modalities, noise curves on features
(and on raw media with --raw), relative/effective robustness and each modality's contribution.

    sseft robustness meld-text --store features/meld --out rob/
    sseft robustness meld-text --store features/meld --baseline meld-late --compare meld-text-drop --out rob/
    sseft robustness meld-text --store features/meld --raw data/meld --raw-dataset meld --limit 200 --out rob/

Writes robustness.json, robustness.md, noise_<kind>.png, missing.png (and raw_<kind>.png) in --out.
"""

from __future__ import annotations

from pathlib import Path

import click


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@click.command()
@click.argument("model_ref", metavar="MODEL")
@click.option(
    "--store",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Feature store to evaluate on.",
)
@click.option("--split", default="test", show_default=True, help="Store split.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--metric", default=None, help="Metric (default: the head's primary metric).")
@click.option(
    "--baseline", default=None, metavar="MODEL", help="Late-fusion reference for effective robustness."
)
@click.option(
    "--compare",
    "compare_ref",
    default=None,
    metavar="MODEL",
    help="Second model: paired bootstrap of curve areas.",
)
@click.option(
    "--kinds",
    default=None,
    help="Feature noise kinds (comma list; default gaussian,frame_drop,temporal_mask).",
)
@click.option("--levels", "n_levels", default=10, show_default=True, help="Noise levels i/n, i = 0..n-1.")
@click.option("--seed", default=0, show_default=True, help="Noise and bootstrap seed.")
@click.option(
    "--raw",
    type=click.Path(path_type=Path),
    default=None,
    help="Manifest or dataset root for raw-level noise.",
)
@click.option("--raw-dataset", default=None, help="Dataset plugin of --raw (default: manifest for a file).")
@click.option("--raw-kinds", default=None, help="Raw noise kinds (comma list; default per input kind).")
@click.option(
    "--raw-split", default=None, help="Split name in --raw when it differs from --split (MELD dev: valid)."
)
@click.option(
    "--raw-set",
    "raw_sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Option of the --raw dataset plugin (modalities=[text]).",
)
@click.option("--limit", default=None, type=int, help="Raw-level noise on the first N items of the split.")
@click.option("--set", "sets", multiple=True, metavar="MOD.FIELD=VALUE", help="Extractor override for --raw.")
@click.option("--n-boot", default=1000, show_default=True, help="Bootstrap resamples for --compare.")
@click.option("--batch-size", default=64, show_default=True)
@click.option("--device", default="cpu", show_default=True)
def robustness(
    model_ref: str, store: Path, split: str, out: Path, metric: str | None, baseline: str | None,
    compare_ref: str | None, kinds: str | None, n_levels: int, seed: int, raw: Path | None,
    raw_dataset: str | None, raw_kinds: str | None, raw_split: str | None, raw_sets: tuple[str, ...],
    limit: int | None, sets: tuple[str, ...], n_boot: int,
    batch_size: int, device: str,
) -> None:  # fmt: skip
    """How MODEL degrades with missing modalities and noise, and which modality carries it."""
    if limit is not None and limit < 1:
        raise click.UsageError("--limit must be >= 1")
    if raw is None and (raw_dataset or raw_kinds or raw_split or raw_sets or limit or sets):
        raise click.UsageError("--raw-dataset/--raw-kinds/--raw-split/--raw-set/--limit/--set need --raw")
    from sseft.core.robustness import FEATURE_KINDS
    from sseft.robustness_api import robustness as run

    res = run(
        model_ref, store, split, metric=metric, baseline=baseline, compare=compare_ref,
        kinds=_csv(kinds) or FEATURE_KINDS, n_levels=n_levels, seed=seed, raw=raw, raw_dataset=raw_dataset,
        raw_kinds=_csv(raw_kinds), raw_split=raw_split, raw_options=raw_sets, limit=limit, overrides=sets, n_boot=n_boot, batch_size=batch_size,
        device=device, progress=lambda s: click.echo(f"  {s}", err=True),
    )  # fmt: skip
    files = res.write(out)
    click.echo(res.summary())
    click.echo(f"wrote {len(files)} files to {out} (robustness.md, robustness.json, PNGs)")
