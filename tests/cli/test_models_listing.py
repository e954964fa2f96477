"""What `sseft models list` and `sseft models show` print for an entry (registry/listing.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sseft.core.errors import IntegrityError
from sseft.registry.listing import entry_details, format_details, listing_rows
from sseft.registry.storage import ModelEntry

CONFIG = {
    "model": {
        "task": "multiclass",
        "head": {"name": "multiclass"},
        "label_names": ["neg", "pos"],
        "modalities": [{"name": "text", "dim": 8, "fingerprint": {"model": "minilm"}}],
        "fusion": {"name": "sseft"},
    },
    "metrics": {"test": {"accuracy": 0.5}},
    "created": "2026-12-07",
    "packages": {"sseft": "0.1.0"},
}


def entry(path: Path) -> ModelEntry:
    summary = {
        "task": "multiclass",
        "head": "multiclass",
        "modalities": ["text"],
        "metrics": CONFIG["metrics"],
    }
    return ModelEntry("mine", 2, path, aliases=["prod"], latest=True, summary=summary)


def test_listing_row_and_details(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    (tmp_path / "README.md").write_text("# mine\n", encoding="utf-8")
    rows = listing_rows([entry(tmp_path)])
    assert rows[0][0] == "REF"
    assert rows[1] == ("mine@2", "latest,prod", "multiclass", "multiclass", "text", "accuracy=0.5", "local")
    details = entry_details(entry(tmp_path))
    assert details["config"] == CONFIG and details["card"] == "# mine\n"
    text = format_details(details)
    assert text.startswith("mine@2  (local)\n")
    assert "  aliases     prod  (latest)\n" in text
    assert "  modality    text dim=8 from minilm\n" in text
    assert "  metric      test.accuracy = 0.5\n" in text
    assert text.endswith("sseft 0.1.0\n\n# mine")


def test_unreadable_config_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{", encoding="utf-8")
    with pytest.raises(IntegrityError, match=r"config\.json: unreadable"):
        entry_details(entry(tmp_path))


def test_models_import_names_the_model_after_its_folder(tmp_path: Path) -> None:
    from sseft.core.errors import RegistryError
    from sseft.registry.names import name_of_folder

    (tmp_path / "My-Model").mkdir()
    assert name_of_folder(tmp_path / "My-Model") == "my-model"
    (tmp_path / "no good").mkdir()
    with pytest.raises(RegistryError, match=r"'no good' is not a valid model name; pass NAME explicitly"):
        name_of_folder(tmp_path / "no good")
