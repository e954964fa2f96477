"""`sseft extract convert-fabnet`: the face plugin's conversion of the FAb-Net authors' checkpoint.
Registered through the `register_commands` hook; click only at import (torch inside the command)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("convert-fabnet")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("output", type=click.Path(path_type=Path))
def convert_fabnet(checkpoint: Path, output: Path) -> None:
    """Convert the FAb-Net authors' PyTorch checkpoint to an encoder-only safetensors file
    (loaded with torch.load(weights_only=True): no pickled code runs)."""
    from .fabnet import convert_checkpoint

    meta = convert_checkpoint(checkpoint, output)
    click.echo(
        f"wrote {meta['out']}: FAb-Net encoder, {meta['tensors']} tensors, num_filters={meta['num_filters']}, "
        f"source sha256 {meta['source_sha256'][:12]}…; use --set face.fabnet_weights={meta['out']}"
    )
