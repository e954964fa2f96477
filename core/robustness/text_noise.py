"""Text noise as in MultiBench (robustness/text_robust.py): each word is picked with probability
l; a picked word of more than 3 letters gets one letter-level typo (as in MultiBench, shorter words
are left alone), or, for `word_drop`, a picked word is removed.

Typo kinds: ``swap`` (two neighbouring inner letters exchanged), ``mid_shuffle`` (the inner letters
shuffled), ``qwerty`` (one letter replaced by a neighbouring key), ``sticky`` (one letter typed twice),
``omission`` (one letter left out); ``typo`` picks one of the five per word. Seeded by the caller's
generator (noise.rng_for). All random numbers are drawn per word before the level is applied, so
the levels share them: a word picked at level 0.3 is picked, with the same typo, at 0.4 too.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

TYPOS: tuple[str, ...] = ("swap", "mid_shuffle", "qwerty", "sticky", "omission")
TEXT_KINDS: tuple[str, ...] = ("word_drop", "typo", *TYPOS)

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_ROWS):
    for _c, _ch in enumerate(_row):
        near = [_row[k] for k in (_c - 1, _c + 1) if 0 <= k < len(_row)]
        for _rr in (_r - 1, _r + 1):
            if 0 <= _rr < len(_ROWS):
                near += [_ROWS[_rr][k] for k in (_c - 1, _c, _c + 1) if 0 <= k < len(_ROWS[_rr])]
        _NEIGHBOURS[_ch] = "".join(near)


def typo(word: str, kind: str, g: np.random.Generator) -> str:
    """One typo of `kind` in `word` (len(word) > 3)."""
    n = len(word)
    if kind == "swap":
        i = int(g.integers(1, n - 2))  # inner letters i, i+1 (first and last stay)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "mid_shuffle":
        mid = list(word[1:-1])
        g.shuffle(mid)
        return word[0] + "".join(mid) + word[-1]
    if kind == "qwerty":
        i = int(g.integers(0, n))
        ch = word[i]
        near = _NEIGHBOURS.get(ch.lower())
        if not near:
            return word
        new = near[int(g.integers(0, len(near)))]
        return word[:i] + (new.upper() if ch.isupper() else new) + word[i + 1 :]
    if kind == "sticky":
        i = int(g.integers(0, n))
        return word[: i + 1] + word[i] + word[i + 1 :]
    if kind == "omission":
        i = int(g.integers(0, n))
        return word[:i] + word[i + 1 :]
    raise ConfigError(f"text noise {kind!r} unknown; choose from {', '.join(TEXT_KINDS)}")


def perturb_text(text: str, kind: str, level: float, g: np.random.Generator) -> str:
    """`text` with a share `level` of its words dropped or misspelt (see the module docstring).
    May return "" (every word dropped): the caller treats that as an absent input."""
    if level <= 0:
        return text
    if kind not in TEXT_KINDS:
        raise ConfigError(f"text noise {kind!r} unknown; choose from {', '.join(TEXT_KINDS)}")
    words = text.split()
    u = g.random(len(words))
    which = g.integers(0, len(TYPOS), len(words))
    seeds = g.integers(0, 2**63 - 1, len(words))
    out: list[str] = []
    for k, w in enumerate(words):
        if u[k] >= level:
            out.append(w)
        elif kind == "word_drop":
            continue
        elif len(w) > 3:
            name = TYPOS[int(which[k])] if kind == "typo" else kind
            out.append(typo(w, name, np.random.default_rng(int(seeds[k]))))
        else:
            out.append(w)
    return " ".join(out)
