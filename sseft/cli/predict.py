"""`sseft predict`: a trained model's prediction for a clip, or for every row of a manifest.

    sseft predict --model meld-emotion --video clip.mp4 --text "Oh my God!"
    sseft predict --model mosi-sentiment --audio x.wav --text-file x.txt --json
    sseft predict --model meld-emotion --manifest items.csv --out predictions.csv --explain plots/
    sseft predict --model meld-context --conversation turns.jsonl --out turns.csv

The model's extractors are rebuilt from the fingerprints it recorded (`--set text.model=DIR` points
at a local copy of an encoder). text -> text, audio (or the video's audio track) -> speech, video ->
face; other modality plugins declare their own input kind (`--input eeg=rec.npy`).
Exit code (batch): 0 when every item was predicted or already in --out, else the number of failed
items (capped at 125; listed in failures.jsonl next to --out).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sseft.core.errors import DataError

from .groups import json_option
from .predict_segments import with_segments

FILE = click.Path(dir_okay=False, path_type=Path)


# fmt: off
@click.command()
@with_segments
@click.option("--model", "model_ref", required=True, metavar="NAME", help="Registry name (name, name@3) or artifact dir.")
@click.option("--text", help="The utterance's transcript.")
@click.option("--text-file", type=FILE, help="Read the transcript from a UTF-8 file.")
@click.option("--audio", type=FILE, help="Audio file (wav/flac/...) for speech.")
@click.option("--video", type=FILE, help="Video for face (and speech, if no --audio).")
@click.option("--input", "extra_inputs", multiple=True, metavar="KIND=VALUE",
              help="Input of another kind a plugin declares (eeg=rec.npy).")
@click.option("--manifest", type=FILE, help="CSV/JSONL of items (id + one column per modality or input kind).")
@click.option("--conversation", type=FILE,
              help="JSONL/CSV of a conversation's turns (speaker, text[, audio, video]): one answer per turn.")
@click.option("--out", type=FILE, help="Predictions CSV for --manifest (resumed if it exists) or --conversation.")
@json_option("Print the prediction as JSON.")
@click.option("--allow-missing", is_flag=True,
              help="Predict without a modality that has no input (fed as an empty sequence).")
@click.option("--explain", type=click.Path(file_okay=False, path_type=Path),
              help="Write an attention plot (PNG) per item here.")
@click.option("--set", "sets", multiple=True, metavar="MOD.FIELD=VALUE",
              help="Extractor override, e.g. text.model=/models/roberta-large.")
@click.option("--preset", metavar="NAME",
              help="Encoder preset the model was trained on (lite); checked against its fingerprints.")
@click.option("--device", help="torch device (default cpu).")
@click.option("--runtime", type=click.Choice(["torch", "onnx"]), default="torch", show_default=True,
              help="onnx: --model is a folder from `sseft models export --format onnx` (onnxruntime).")
@click.option("--batch-size", default=8, show_default=True, help="Items per forward pass (--manifest).")
@click.option("--no-progress", is_flag=True, help="No progress bar (--manifest).")
# fmt: on
def predict(
    model_ref: str, text: str | None, text_file: Path | None, audio: Path | None, video: Path | None,
    extra_inputs: tuple[str, ...], manifest: Path | None, conversation: Path | None, out: Path | None, as_json: bool, allow_missing: bool,
    explain: Path | None, sets: tuple[str, ...], preset: str | None, device: str | None, runtime: str,
    batch_size: int, no_progress: bool,
) -> None:  # fmt: skip
    """Predict emotion/sentiment of a clip (text, audio, video) or of every item of a manifest."""
    from sseft.core.inference.requests import item_inputs

    raw = item_inputs(text, text_file, audio, video, extra_inputs)
    if conversation is not None:
        if raw or manifest is not None:
            raise click.UsageError("--conversation reads the turns from its file: drop --text/--audio/--video/--manifest")
        from .predict_conversation import predict_conversation_command

        predict_conversation_command(model_ref, conversation, out, as_json, allow_missing, sets, preset, device, runtime)
        return
    if manifest is not None and raw:
        raise click.UsageError("--manifest reads the inputs from the manifest: drop --text/--audio/--video/--input")
    if manifest is not None and out is None:
        raise click.UsageError("--manifest needs --out FILE.csv (the predictions; resumed if it exists)")
    if manifest is None and not raw:
        raise click.UsageError("give at least one input (--text, --text-file, --audio, --video, --input) or --manifest")
    if batch_size < 1:
        raise click.UsageError("--batch-size must be >= 1")
    from sseft.api import load_predictor

    predictor = load_predictor(
        model_ref, sets, preset=preset, allow_missing=allow_missing, device=device, runtime=runtime
    )
    if manifest is not None and out is not None:
        from sseft.core.inference import manifest_rows, predict_rows

        rows, extra = manifest_rows(predictor, manifest)
        summary = predict_rows(predictor, rows, out, batch_size=batch_size, progress=False if no_progress else None,
                               explain=explain, extra_columns=extra)  # fmt: skip
        click.echo(summary.line())
        sys.exit(summary.exit_code)
    item_id = next((p.stem for p in (video, audio, text_file) if p is not None), "input")
    (res,) = predictor.predict_items([raw], ids=[item_id], explain=explain)
    from sseft.core.errors import ItemError

    if isinstance(res, ItemError):  # one line, exit code 2
        raise DataError(res.reason)
    if as_json:
        click.echo(json.dumps({"model": predictor.ref, **res.to_dict()}, indent=2, ensure_ascii=False))
    else:
        click.echo(res.report_text(predictor.ref))
