"""The ready experiment configs that ship with sseft (the repository's `configs/` folder, installed as
the package data `sseft.configs`), so `sseft train configs/lite.yaml` works from any folder.

A config path that does not exist and reads `configs/NAME.yaml` (or a bare `NAME.yaml`) names the
shipped `NAME.yaml`: it is read from the package as if it sat at that path, so a relative
`data.store` inside it resolves against the folder the user typed (`configs/../features/lite` is
`./features/lite`). A file of the user's at that path always wins.
"""

from __future__ import annotations

from pathlib import Path

# core/ and configs/ are siblings both in the repository and in an installed wheel (pyproject.toml
# maps sseft.core -> core and sseft.configs -> configs), so this holds for editable installs too.
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "configs"


def shipped_configs() -> dict[str, Path]:
    """File name -> path of every shipped experiment config (empty when none are installed)."""
    if not SHIPPED_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(SHIPPED_DIR.glob("*.yaml"))}


def shipped_config(path: str | Path) -> Path | None:
    """The shipped config a missing `path` names (`configs/NAME.yaml` or `NAME.yaml`), else None."""
    p = Path(path)
    if p.exists() or p.parent.name not in ("configs", ""):
        return None
    return shipped_configs().get(p.name)


def shipped_hint() -> str:
    """`; shipped configs: configs/lite.yaml, ...` for a config-not-found message ('' when none)."""
    names = shipped_configs()
    return f"; shipped configs: {', '.join(f'configs/{n}' for n in names)}" if names else ""
