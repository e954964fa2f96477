"""`sseft plugins` and `sseft env`: what is installed, for users and bug reports."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import asdict

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List every plugin: package, version, what it registers, load errors."""
    from sseft.core.plugins import get_manager

    pm = get_manager().load()
    infos = list(pm.plugins.values())
    if as_json:
        click.echo(json.dumps([asdict(i) for i in infos], indent=2))
        return
    if not infos:
        click.echo("no plugins found (is sseft installed with `pip install -e .`?)")
        return
    for i in infos:
        status = click.style("ERROR", fg="red") if i.error else click.style("ok", fg="green")
        click.echo(f"{i.name:<12} {i.package} {i.version}  [{status}]  ({i.module})")
        for kind, names in sorted(i.registers.items()):
            plural = "modalities" if kind == "modality" else kind + "s"
            click.echo(f"    {plural:<11} {', '.join(names)}")
        for name in i.registers.get("modality", []) if not i.error else []:
            for note in getattr(pm.get("modality", name), "notes", ()):  # licences, optional encoders
                click.echo(f"    note        {name}: {note}")
        if i.error:
            click.echo(f"    error       {i.error}")


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def env(as_json: bool) -> None:
    """Versions, devices and plugins: what a bug report needs."""

    from sseft.core.plugins import get_manager

    info: dict[str, object] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    for dist in (
        "sseft",
        "torch",
        "torchaudio",
        "torchvision",
        "transformers",
        "accelerate",
        "safetensors",
        "pydantic",
        "pluggy",
        "av",
        "soundfile",
    ):
        info[dist] = _version(dist)
    try:
        import torch

        info["cuda_available"] = torch.cuda.is_available()
        info["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] or ["cpu"]
        info["torch_threads"] = torch.get_num_threads()
    except Exception as e:  # report, do not fail: this command exists to diagnose broken installs
        info["torch_error"] = f"{type(e).__name__}: {e}"
    pm = get_manager().load()
    info["plugins"] = {n: (p.error or "ok") for n, p in pm.plugins.items()}
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            click.echo(f"{k:<16} {v}")
