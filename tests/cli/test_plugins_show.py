"""`sseft plugins show NAME`: a plugin's config schema (field, type, default, description)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sseft.cli.main import cli


def invoke(*args: str):
    return CliRunner().invoke(cli, ["plugins", *args])


def test_show_a_modality_lists_every_field_with_type_default_and_description() -> None:
    r = invoke("show", "face")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("modality face") and "--set face.FIELD=VALUE" in lines[0]
    assert lines[1].split() == ["FIELD", "TYPE", "DEFAULT", "DESCRIPTION"]
    fps = next(x for x in lines if x.split()[:1] == ["fps"])
    assert fps.split()[:3] == ["fps", "float", "10.0"] and "frames per second" in fps
    assert any(x.split()[:3] == ["random_init", "bool", "false"] for x in lines)
    from sseft.core.plugins import get_modality

    assert len(lines) == 2 + len(get_modality("face").config_model.model_fields)


def test_show_json_datasets_and_heads() -> None:
    data = json.loads(invoke("show", "manifest", "--json").output)
    assert [(b["kind"], b["name"]) for b in data] == [("dataset", "manifest")]
    root = next(f for f in data[0]["fields"] if f["field"] == "root")
    assert (
        root["default"] == "(required)" and root["type"] == "Path" and "manifest file" in root["description"]
    )
    head = json.loads(invoke("show", "multiclass", "--json").output)[0]
    assert head["kind"] == "head"
    assert {
        "field": "dropout",
        "type": "float",
        "default": "0.1",
        "description": "dropout before each Linear",
    } in head["fields"]
    text = json.loads(invoke("show", "text", "--json").output)[0]
    model = next(f for f in text["fields"] if f["field"] == "model")
    assert "minilm-offline" in model["description"]


def test_show_an_unknown_name_suggests() -> None:
    r = invoke("show", "txt")
    assert r.exit_code == 2 and r.output.strip().startswith(
        "error: unknown plugin 'txt'; did you mean 'text'?"
    )
    assert len(r.output.strip().splitlines()) == 1


def test_plain_plugins_listing_still_works_and_points_at_show() -> None:
    r = invoke()
    assert r.exit_code == 0 and "modalities" in r.output and "sseft plugins show NAME" in r.output
    assert isinstance(json.loads(invoke("--json").output), list)
