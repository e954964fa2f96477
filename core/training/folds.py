"""Grouped folds: leave-one-group-out or grouped k-fold over a grouping every item carries.

    data:
      folds: {by: session}                                  # IEMOCAP leave-one-session-out
      folds: {by: session, valid: {by: speaker, groups: 1}} # validation: one training speaker
      folds: {by: group, kind: k-fold, k: 5}                # a manifest `group` column

The group of an item is `meta[by]` from the feature store's index (`store.meta(split)`): IEMOCAP
`session` / `speaker`, `dialogue` (every dataset with conversations, core/features/conversation.py;
folding by it never splits a dialogue), a manifest's `group` column. Items of every split listed in
`splits` (default: all) are pooled. Fold f tests on its test groups; validation is drawn from the
training groups only (by default one held-out training group of the same grouping, chosen with a
seeded draw per fold), so no group is ever in two of train/valid/test of one fold, and model
selection never sees the test groups. Pure python (pydantic; no torch): the experiment config imports it.

A model with dialogue context (`context:`) builds each item's context from the items of its own part
and store split (core/context/table.py), so there a part must hold whole dialogues:
`check_whole_dialogues` refuses a fold, split_ids or store splits that cut one (a grouping finer than
a dialogue, such as IEMOCAP's `speaker`, does; `session` and `dialogue` never do).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from ..config import StrictModel
from ..errors import ConfigError, DataError
from ..features.conversation import Turn, dialogues_in_several_parts, turn_from_meta

if TYPE_CHECKING:
    from ..features.store import FeatureStore


class ValidConfig(StrictModel):
    """Where a fold's validation part comes from (always from its training groups)."""

    # The grouping of the validation draw; None: the folds' own `by`. A finer grouping nested in it
    # (IEMOCAP speakers within sessions) gives a speaker-disjoint validation share.
    by: str | None = None
    # How many training groups to hold out (default 1), or instead a share of them (rounded, >= 1).
    groups: int | None = Field(default=None, ge=1)
    share: float | None = Field(default=None, gt=0.0, lt=1.0)
    # Groups taken first whenever the fold's training part has them (IEMOCAP: [Ses04F], the paper's
    # validation speaker); the rest of the amount is drawn.
    prefer: list[Any] = Field(default_factory=list)
    seed: int = 0

    @model_validator(mode="after")
    def _one_amount(self) -> ValidConfig:
        if self.share is not None and self.groups is not None:
            raise ValueError("set valid.groups or valid.share, not both")
        return self


class FoldsConfig(StrictModel):
    """`data.folds`: cross-validation over a grouping carried in item meta."""

    by: str = Field(min_length=1, description="item meta key that holds the group (session, speaker, ...)")
    kind: Literal["leave-one-group-out", "k-fold"] = "leave-one-group-out"
    k: int | None = Field(default=None, ge=2, description="number of folds for kind k-fold")
    # Store splits whose items are pooled before folding; None: every split of the store.
    splits: list[str] | None = None
    valid: ValidConfig = Field(default_factory=ValidConfig)
    # Run only these folds (1-based numbers), e.g. [5] = IEMOCAP's paper split (session 5 test).
    only: list[int] | None = None

    @model_validator(mode="after")
    def _k_for_kfold(self) -> FoldsConfig:
        if self.kind == "k-fold" and self.k is None:
            raise ValueError("kind k-fold needs k (the number of folds)")
        return self


Fold = dict[str, list[str]]  # {"train": ids, "valid": ids, "test": ids}


def _group_order(g: Any) -> tuple[int, Any]:
    # Numbers sort numerically (sessions 1..5), strings alphabetically, numbers first.
    return (0, g) if isinstance(g, (int, float)) and not isinstance(g, bool) else (1, str(g))


def _group_of(meta: dict[str, Any], by: str, item_id: str, where: str) -> Any:
    if by not in meta or meta[by] is None:
        keys = ", ".join(sorted(meta)) or "none"
        raise DataError(
            f"{where}: item {item_id!r} has no meta {by!r} to fold by (its meta keys: {keys}); set "
            "data.folds.by to one of them, or add the column when extracting"
        )
    g = meta[by]
    return tuple(g) if isinstance(g, list) else g


def pooled_items(store: FeatureStore, cfg: FoldsConfig) -> tuple[list[str], list[dict[str, Any]]]:
    """(ids, metas) of every item of the folded splits, in store order."""
    splits = cfg.splits or list(store.splits)
    ids: list[str] = []
    metas: list[dict[str, Any]] = []
    for s in splits:
        if s not in store.splits:
            raise ConfigError(
                f"data.folds.splits: the store {store.root} has no split {s!r} "
                f"(it has {', '.join(store.splits)})"
            )
        ids += store.ids(s)
        metas += store.meta(s)
    return ids, metas


def make_folds(
    ids: Sequence[str],
    metas: Sequence[dict[str, Any]],
    cfg: FoldsConfig,
    where: str = "feature store",
    whole_dialogues: bool = False,
) -> list[Fold]:
    """Every fold (fold f = element f-1) as item-id lists per part; see the module docstring.
    `whole_dialogues` (a model with context): DataError unless every part of every fold holds whole
    dialogues (items without a dialogue in their meta are free to go anywhere)."""
    groups = [_group_of(m, cfg.by, i, where) for i, m in zip(ids, metas, strict=True)]
    distinct = sorted(set(groups), key=_group_order)
    if cfg.kind == "leave-one-group-out":
        test_sets = [{g} for g in distinct]
    else:
        test_sets = _grouped_kfold(groups, distinct, int(cfg.k or 0), cfg.by)
    if len(test_sets) < 2:
        raise DataError(f"{where}: folding by {cfg.by!r} needs at least 2 groups, found {len(distinct)}")
    folds = []
    for f, test_groups in enumerate(test_sets, start=1):
        test = [(i, m) for i, m, g in zip(ids, metas, groups, strict=True) if g in test_groups]
        pool = [(i, m) for i, m, g in zip(ids, metas, groups, strict=True) if g not in test_groups]
        train, valid = _split_valid(pool, test, cfg, f, where)
        folds.append({"train": train, "valid": valid, "test": [i for i, _ in test]})
    if whole_dialogues:
        turns = {i: turn_from_meta(m, i) for i, m in zip(ids, metas, strict=True)}
        whole = "a grouping that keeps dialogues whole (session, dialogue)"
        for f, fold in enumerate(folds, start=1):
            held_out = {
                f"fold {f} test": fold["test"],
                f"fold {f} train/valid": fold["train"] + fold["valid"],
            }
            refuse_cut_dialogues(held_out, turns, where, f"data.folds.by {cfg.by!r} cuts it; fold by {whole}")
            refuse_cut_dialogues(
                {f"fold {f} train": fold["train"], f"fold {f} valid": fold["valid"]}, turns, where,
                f"validation by {cfg.valid.by or cfg.by!r} cuts it; validate by {whole}: valid: {{by: dialogue}}",
            )  # fmt: skip
    return folds


def refuse_cut_dialogues(
    parts: Mapping[str, Sequence[str]], turns: Mapping[str, Turn | None], where: str, fix: str
) -> None:
    """One-line DataError naming the first dialogue that lies in several of `parts` (and how many
    more do), with `fix`; nothing when every dialogue lies whole in one part."""
    cut = dialogues_in_several_parts(parts, turns)
    if cut:
        dialogue, names = next(iter(cut.items()))
        more = f" (and {len(cut) - 1} more dialogues)" if len(cut) > 1 else ""
        raise DataError(
            f"{where}: dialogue {dialogue!r} is split across {', '.join(names)}{more}; with context a "
            f"dialogue must lie whole in one part, since contexts are built within a part: {fix}, or turn "
            "context off"
        )


def check_whole_dialogues(
    store: FeatureStore,
    parts: Mapping[str, Sequence[str]],
    where: str,
    fix: str = "use folds or splits that keep each dialogue in one part (data.folds.by: session or dialogue)",
) -> None:
    """DataError (one line) unless every dialogue of the items of `parts` (role -> item ids: a
    fold, split_ids or the store's splits) lies whole in one part and in one store split: a context
    is built from its part's items of the item's own store split, so either cut would silently
    leave turns out of their dialogue's contexts."""
    turns: dict[str, Turn | None] = {}
    split_of: dict[str, str] = {}
    for split in store.splits:
        for i, m in zip(store.ids(split), store.meta(split), strict=True):
            turns[i], split_of[i] = turn_from_meta(m, i), split
    by_role = {role: list(ids) for role, ids in parts.items()}
    refuse_cut_dialogues(by_role, turns, where, fix)
    by_split: dict[str, list[str]] = {}
    for ids in by_role.values():
        for i in ids:
            if i in split_of:
                by_split.setdefault(f"store split {split_of[i]!r}", []).append(i)
    refuse_cut_dialogues(by_split, turns, f"{where} ({store.root})", "re-extract so that each dialogue "
                         "lies in one split (IEMOCAP: --set dataset.valid_speakers=[])")  # fmt: skip


def selected(folds: list[Fold], cfg: FoldsConfig) -> list[tuple[int, Fold]]:
    """(fold number, fold) of the folds to run (`only`, else all)."""
    if cfg.only:
        bad = [f for f in cfg.only if not 1 <= f <= len(folds)]
        if bad:
            raise ConfigError(f"data.folds.only: fold {bad[0]} does not exist (folds are 1..{len(folds)})")
        return [(f, folds[f - 1]) for f in sorted(set(cfg.only))]
    return list(enumerate(folds, start=1))


def _grouped_kfold(groups: list[Any], distinct: list[Any], k: int, by: str) -> list[set[Any]]:
    """k sets of whole groups with item counts as equal as possible (largest group first into the
    currently smallest fold, as sklearn's GroupKFold); deterministic."""
    if k > len(distinct):
        raise DataError(f"data.folds: k={k} folds but only {len(distinct)} distinct {by!r} groups")
    sizes: dict[Any, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    folds: list[set[Any]] = [set() for _ in range(k)]
    load = [0] * k
    for g in sorted(distinct, key=lambda g: (-sizes[g], _group_order(g))):
        j = min(range(k), key=lambda j: (load[j], j))
        folds[j].add(g)
        load[j] += sizes[g]
    return folds


def _split_valid(
    pool: list[tuple[str, dict[str, Any]]],
    test: list[tuple[str, dict[str, Any]]],
    cfg: FoldsConfig,
    fold: int,
    where: str,
) -> tuple[list[str], list[str]]:
    """Hold out validation groups (of `valid.by`) from the fold's training pool. With a finer
    grouping that is not nested in `by` (a speaker in several sessions), a group that also occurs in
    the test part is never drawn for validation."""
    vby = cfg.valid.by or cfg.by
    vgroups = [_group_of(m, vby, i, where) for i, m in pool]
    in_test = {_group_of(m, vby, i, where) for i, m in test} if vby != cfg.by else set()
    distinct = sorted(set(vgroups) - in_test, key=_group_order)
    if len(distinct) < 2:
        raise DataError(
            f"{where}: fold {fold}: the training part has {len(distinct)} {vby!r} group(s) that are not in "
            "the test part; validation needs at least 2 (one to hold out, one to train on)"
        )
    v = cfg.valid
    n = v.groups if v.groups is not None else (round(v.share * len(distinct)) if v.share is not None else 1)
    n = max(1, min(int(n), len(distinct) - 1))
    preferred = [g for g in dict.fromkeys(v.prefer) if g in distinct][:n]  # in the given order
    rest = [g for g in distinct if g not in preferred]
    held = set(preferred) | set(random.Random(v.seed * 1_000_003 + fold).sample(rest, n - len(preferred)))
    train = [i for (i, _), g in zip(pool, vgroups, strict=True) if g not in held]
    valid = [i for (i, _), g in zip(pool, vgroups, strict=True) if g in held]
    return train, valid
