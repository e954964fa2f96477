"""`sseft extract`: run frozen encoders over a dataset into a feature store (and `convert-fabnet`).

    sseft extract --dataset meld --root data/MELD --modalities text,speech,face \\
        --set text.model=minilm-offline --set face.fabnet_weights=fabnet.safetensors --out stores/meld
    accelerate launch --num_processes 4 -m sseft extract ...   # the same command on N processes

Exit code: 0 when every item was extracted (or already stored), else the number of failed items
(capped at 125; they are listed in <store>/failures.jsonl). Errors that stop the job before any item
(unknown dataset, bad config, a store made with other encoders) print one `error:` line, exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sseft.core.errors import ConfigError


def split_overrides(sets: tuple[str, ...], modalities: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """`--set text.model=x` -> per-modality overrides; `--set dataset.k=v` -> dataset overrides."""
    per: dict[str, list[str]] = {m: [] for m in modalities}
    data: list[str] = []
    for s in sets:
        key = s.split("=", 1)[0]
        head, _, rest = key.partition(".")
        if head == "dataset" and rest:
            data.append(s[len("dataset.") :])
        elif head in per and rest:
            per[head].append(s[len(head) + 1 :])
        else:
            raise ConfigError(
                f"--set {s!r}: start the field with a chosen modality ({', '.join(modalities)}) or 'dataset.'"
            )
    return per, data


@click.group(invoke_without_command=True)
@click.option("--dataset", "dataset", metavar="NAME", help="Dataset plugin (see `sseft plugins`).")
@click.option("--root", type=click.Path(path_type=Path), help="Dataset location (its config's `root`).")
@click.option(
    "--dataset-config", type=click.Path(path_type=Path), help="YAML/JSON options of the dataset plugin."
)
@click.option(
    "--modalities", help="Comma-separated modality plugins (default: every modality the items have)."
)
@click.option(
    "--modality-config",
    type=click.Path(path_type=Path),
    help="YAML/JSON mapping modality -> extractor options.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="MOD.FIELD=VALUE",
    help="Override an extractor option (text.model=...) or a dataset option (dataset.field=...).",
)
@click.option("--out", type=click.Path(path_type=Path), help="Feature store directory (created or resumed).")
@click.option("--batch-size", default=8, show_default=True, help="Items per batch.")
@click.option("--shard-size", default=256, show_default=True, help="Items per shard file.")
@click.option("--device", default=None, help="torch device (default: accelerate's choice for this process).")
@click.option(
    "--threads", type=int, default=None, help="torch CPU threads per process (default: cores / processes)."
)
@click.option("--limit", type=int, default=None, help="Only the first N items (smoke runs).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.pass_context
def extract(
    ctx: click.Context,
    dataset: str | None,
    root: Path | None,
    dataset_config: Path | None,
    modalities: str | None,
    modality_config: Path | None,
    sets: tuple[str, ...],
    out: Path | None,
    batch_size: int,
    shard_size: int,
    device: str | None,
    threads: int | None,
    limit: int | None,
    no_progress: bool,
) -> None:
    """Extract features of a dataset into a feature store (resumable; multi-process under accelerate)."""
    if ctx.invoked_subcommand is not None:
        return
    if not dataset or out is None:
        raise click.UsageError("--dataset and --out are required (or use a subcommand, e.g. convert-fabnet)")
    from sseft.core.config import read_mapping
    from sseft.plugins.datasets.common import resolve_dataset

    chosen = [m.strip() for m in modalities.split(",") if m.strip()] if modalities else None
    mod_cfg: dict[str, Any] = read_mapping(modality_config) if modality_config else {}
    names_for_sets = chosen or sorted(
        {*mod_cfg, *(s.split(".", 1)[0] for s in sets if s.split(".", 1)[0] != "dataset")}
    )
    per, data_sets = split_overrides(sets, names_for_sets)
    data = read_mapping(dataset_config) if dataset_config else {}
    plugin, dcfg = resolve_dataset(
        dataset, root, data_sets, data, base=dataset_config.parent if dataset_config else None
    )
    items = list(plugin.items(dcfg))
    if limit is not None:
        items = items[:limit]
    if chosen is None:
        chosen = _modalities_of(items)
    _run(
        plugin,
        dcfg,
        items,
        chosen,
        mod_cfg,
        per,
        out,
        batch_size,
        shard_size,
        device,
        threads,
        not no_progress,
    )


def _modalities_of(items: list[Any]) -> list[str]:
    from sseft.core.plugins import get_manager

    known = set(get_manager().names("modality"))
    seen: list[str] = []
    for it in items:
        for m in it.inputs:
            if m in known and m not in seen:
                seen.append(m)
    if not seen:
        raise ConfigError("the dataset's items have no input a modality plugin handles; pass --modalities")
    return seen


def _run(
    plugin: Any,
    dcfg: Any,
    items: list[Any],
    chosen: list[str],
    mod_cfg: dict[str, Any],
    per: dict[str, list[str]],
    out: Path,
    batch_size: int,
    shard_size: int,
    device: str | None,
    threads: int | None,
    progress: bool,
) -> None:
    from sseft.core.config import apply_overrides, validate
    from sseft.core.extraction import extract_items
    from sseft.core.plugins import get_modality

    configs = {}
    for m in chosen:
        mp = get_modality(m)
        values = apply_overrides(dict(mod_cfg.get(m) or {}), per.get(m, []))
        configs[m] = validate(mp.config_model, values, source=f"modality {m}")
    source = {"dataset": plugin.name, "config": json.loads(dcfg.model_dump_json())}
    summary = extract_items(
        items,
        plugin.task(dcfg),
        configs,
        out,
        batch_size=batch_size,
        shard_size=shard_size,
        device=device,
        threads=threads,
        source=source,
        progress=progress,
    )
    from sseft.core.extraction import dist_context

    if dist_context().is_main:
        click.echo(summary.line())
    sys.exit(summary.exit_code)


@extract.command("convert-fabnet")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("output", type=click.Path(path_type=Path))
def convert_fabnet(checkpoint: Path, output: Path) -> None:
    """Convert the FAb-Net authors' PyTorch checkpoint to an encoder-only safetensors file
    (loaded with torch.load(weights_only=True): no pickled code runs)."""
    from sseft.plugins.modalities.fabnet import convert_checkpoint

    meta = convert_checkpoint(checkpoint, output)
    click.echo(
        f"wrote {meta['out']}: FAb-Net encoder, {meta['tensors']} tensors, num_filters={meta['num_filters']}, "
        f"source sha256 {meta['source_sha256'][:12]}…; use --set face.fabnet_weights={meta['out']}"
    )
