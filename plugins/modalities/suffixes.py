"""File suffixes the built-in modality plugins read (stdlib only: imported at `sseft plugins` time).

A modality plugin declares `suffixes` (lower-case, with the dot); the manifest dataset treats a
column as file paths when its values end in the union of the installed plugins' suffixes.
"""

from __future__ import annotations

AUDIO_FILES = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3", ".m4a")
VIDEO_FILES = (".mp4", ".avi", ".mkv", ".mov", ".webm")
# Precomputed feature arrays, which every modality accepts (the extraction engine passes them through).
ARRAY_FILES = (".npy", ".safetensors")
