"""`sseft extract`: run frozen encoders over a dataset into a feature store. Plugins add
subcommands (the face plugin's `convert-fabnet`).

    sseft extract --dataset meld --root data/MELD --modalities text,speech,face \\
        --set text.model=minilm-offline --set face.fabnet_weights=fabnet.safetensors --out stores/meld
    accelerate launch --num_processes 4 -m sseft extract ...   # the same command on N processes

Exit code: 0 when every item was extracted (or already stored), else the number of failed items
(capped at 125; they are listed in <store>/failures.jsonl). Errors that stop the job before any item
(unknown dataset, bad config, a store made with other encoders) print one `error:` line, exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .groups import PluginGroup, comma_list

PATH = click.Path(path_type=Path)


# fmt: off
@click.group(cls=PluginGroup, invoke_without_command=True)
@click.option("--dataset", "dataset", metavar="NAME", help="Dataset plugin (see `sseft plugins`).")
@click.option("--root", type=PATH, help="Dataset location (its config's `root`).")
@click.option("--dataset-config", type=PATH, help="YAML/JSON options of the dataset plugin.")
@click.option("--modalities", callback=comma_list,
              help="Comma-separated modalities (default: every modality the items have).")
@click.option("--modality-config", type=PATH, help="YAML/JSON mapping modality -> extractor options.")
@click.option("--set", "sets", multiple=True, metavar="MOD.FIELD=VALUE",
              help="An extractor option (text.model=...) or a dataset option (field=... or dataset.field=...).")
@click.option("--preset", metavar="NAME",
              help="Encoder preset: lite = MiniLM text + eGeMAPS speech + MTCNN/FER face (offline, CPU).")
@click.option("--out", type=PATH, help="Feature store directory (created or resumed).")
@click.option("--batch-size", default=8, show_default=True, help="Items per batch.")
@click.option("--shard-size", default=256, show_default=True, help="Items per shard file.")
@click.option("--device", help="torch device (default: accelerate's choice for this process).")
@click.option("--threads", type=int, help="torch CPU threads per process (default: cores / processes).")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16"]), default="float32", show_default=True,
              help="How the store keeps features (float16/bfloat16: half the disk; training reads them as float32).")
@click.option("--mixed-precision", type=click.Choice(["no", "bf16", "fp16"]), default="no", show_default=True,
              help="Autocast the encoders' forward passes (bf16: AVX512-BF16 CPUs, recent GPUs).")
@click.option("--input-order", is_flag=True, help="Batch items in input order (default: by length, less padding).")
@click.option("--no-prefetch", is_flag=True, help="Decode/resample each batch when it runs, not one batch ahead "
              "in a background thread (faster only for toy encoders on few cores).")
@click.option("--limit", type=int, help="Only the first N items (smoke runs).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.pass_context
# fmt: on
def extract(
    ctx: click.Context, dataset: str | None, out: Path | None, modalities: list[str] | None,
    modality_config: Path | None, preset: str | None, input_order: bool, no_prefetch: bool, no_progress: bool,
    **job: Any,
) -> None:  # fmt: skip
    """Extract features of a dataset into a feature store (resumable; multi-process under accelerate)."""
    if ctx.invoked_subcommand is not None:
        return
    if not dataset or out is None:
        raise click.UsageError("--dataset and --out are required (or use a subcommand, see --help)")
    from sseft.core.config import read_mapping
    from sseft.core.extraction import dist_context, extract_dataset
    from sseft.plugins.modalities.presets import merged_options

    # The preset's options (none without --preset), --modality-config's entries and --set on top.
    options = merged_options(preset, read_mapping(modality_config) if modality_config else {})
    summary = extract_dataset(
        dataset, out, options=options, modalities=modalities, progress=not no_progress,
        sort_by_length=not input_order, prefetch=not no_prefetch, **job,
    )  # fmt: skip
    if dist_context().is_main:
        click.echo(summary.line())
    sys.exit(summary.exit_code)
