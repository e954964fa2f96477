"""setup(): everything checked from the store's index, then model, optimizer, loaders, the run
directory claimed and, when resuming, the latest checkpoint restored."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch

from ..config import write_resolved
from ..extraction.generate import ensure_store
from ..files import atomic_write_text
from ..model import ModelConfig, SseftModel, build_model
from . import checkpoint as ck
from . import tracking
from .config import ExperimentConfig
from .data import (
    EpochSetter,
    check_label_values,
    check_specs_match,
    item_labels,
    make_loader,
    modality_specs,
    open_store,
    resolve_split_ids,
    standardized,
    store_task,
)
from .optim import make_optimizer
from .run import Run
from .rundir import claim_run_dir, release
from .state import TrainState

if TYPE_CHECKING:
    from ..features.store import FeatureStore


def distributed_cpu() -> bool:
    """Launched as several processes (torchrun / accelerate launch) on a machine without CUDA.

    Accelerate only sets up gloo DDP on CPU when asked for the CPU explicitly; without this, a
    `--multi_gpu` launch on a CPU machine would run N independent single-process trainings.
    """
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def make_accelerator(cfg: ExperimentConfig | None = None, run_dir: Path | None = None) -> Any:
    from accelerate import Accelerator

    from ..extraction.distributed import accelerator_handlers

    kwargs: dict[str, Any] = {"cpu": True} if distributed_cpu() else {}
    kwargs["kwargs_handlers"] = accelerator_handlers()  # how long a collective waits for a lost process
    if cfg is None:
        return Accelerator(**kwargs)
    _forget_other_precision(cfg.train.mixed_precision)
    kwargs["gradient_accumulation_steps"] = cfg.train.grad_accum
    if cfg.train.mixed_precision is not None:  # otherwise: the launch config decides
        kwargs["mixed_precision"] = cfg.train.mixed_precision
    if cfg.train.log_with:
        kwargs |= {"log_with": list(cfg.train.log_with), "project_dir": str(run_dir)}
    return Accelerator(**kwargs)


def _forget_other_precision(wanted: str | None) -> None:
    """Accelerate keeps one process-wide state: after a bf16 run, a later `train()` in the same
    process that leaves the precision to the launch config would silently run in bf16 too (and an
    explicit other precision is refused). In a single process nothing else shares that state, so a
    state made for another precision is dropped; launched runs (WORLD_SIZE > 1) keep theirs."""
    from accelerate.state import AcceleratorState

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or not AcceleratorState._shared_state:
        return
    want = wanted or os.environ.get("ACCELERATE_MIXED_PRECISION", "no")
    if str(AcceleratorState().mixed_precision) != want:
        AcceleratorState._reset_state(reset_partial_state=True)


def process_state() -> Any:
    """Accelerate's process state, set up as the trainer's Accelerator will be: it is a singleton,
    so a plain PartialState() first would leave a CPU `accelerate launch` undistributed."""
    from accelerate import PartialState

    from ..extraction.distributed import process_group_kwargs

    return PartialState(cpu=distributed_cpu(), **process_group_kwargs())


def setup(
    cfg: ExperimentConfig,
    output_dir: str | Path | None,
    *,
    resume: bool,
    overwrite: bool,
    split_ids: Mapping[str, Sequence[str]] | None,
    progress: bool | None,
) -> Run:
    """Check everything that can be checked from the store's index, build model/optimizer/loaders,
    claim the run directory, restore a checkpoint when resuming. Nothing is written to the run
    directory before every check has passed."""
    from accelerate.utils import set_seed

    out = Path(output_dir or cfg.output_dir or Path("runs") / cfg.name)
    tc = cfg.train
    if tc.num_threads is not None:
        torch.set_num_threads(tc.num_threads)
    accelerator = make_accelerator(cfg, out)
    ensure_store(cfg.data, accelerator)  # generated data is made when absent
    store = open_store(cfg.data.store)
    ids = resolve_split_ids(cfg, store, split_ids)
    if cfg.context is not None and cfg.context.enabled:
        check_context_roles(store, ids, split_ids is not None)
    mcfg = model_config(cfg, store)
    mcfg = mcfg.model_copy(update={"modalities": standardized(cfg, store, mcfg.modalities, ids["train"])})
    if resume and (out / "model_config.json").is_file():
        # The features must still be the ones the interrupted run trained on.
        saved = ModelConfig.model_validate_json((out / "model_config.json").read_text(encoding="utf-8"))
        check_specs_match(saved.modalities, store, f"the run in {out}")
    set_seed(tc.seed)  # the same initial weights on every process
    model = build_model(mcfg)
    check_roles(cfg, store, model.head, ids, split_ids is not None)
    loaders = make_loaders(cfg, store, model, ids)
    sampler = cast(EpochSetter, loaders["train"].batch_sampler)
    optimizer, scheduler = make_optimizer(model, tc, len(loaders["train"]))
    state = TrainState()
    model, optimizer, loaders["train"], loaders["valid"], scheduler = accelerator.prepare(
        model, optimizer, loaders["train"], loaders["valid"], scheduler
    )
    if "test" in loaders:
        loaders["test"] = accelerator.prepare(loaders["test"])
    accelerator.register_for_checkpointing(state)
    run = Run(cfg, out, accelerator, store, mcfg, model, optimizer, scheduler, loaders, sampler, ids, state)
    run.custom_ids = split_ids is not None
    run.lock = claim_run_dir(accelerator, out, resume=resume, overwrite=overwrite)
    try:
        if resume:
            restore(run)
        if accelerator.is_main_process:
            write_resolved(cfg, out / "config.yaml")
            atomic_write_text(out / "model_config.json", mcfg.model_dump_json(indent=1))
        tracking.start(accelerator, cfg, out)
    except BaseException:
        release(run.lock)
        raise
    run.bar = progress_bar(run, progress)
    return run


def check_context_roles(store: FeatureStore, ids: Mapping[str, Sequence[str]], custom: bool) -> None:
    """With dialogue context, refuse (one line, before anything is written) roles that cut a
    dialogue: its contexts are built within one role and one store split (folds.py)."""
    from .folds import check_whole_dialogues

    if custom:
        check_whole_dialogues(store, ids, "split_ids")
    else:
        check_whole_dialogues(store, ids, f"{store.root} splits", "train on data.folds by session or dialogue "
                              "(docs/evaluation.md), or re-extract with each dialogue in one split "
                              "(IEMOCAP: --set dataset.valid_speakers=[])")  # fmt: skip


def model_config(cfg: ExperimentConfig, store: FeatureStore) -> ModelConfig:
    """The network to train, with what prediction needs to know: which modalities may be missing
    (all of them after modality dropout) and which raw inputs feed each (from its plugin)."""
    task = store_task(store, cfg.data.labels)
    specs = modality_specs(cfg, store)
    return ModelConfig(
        modalities=specs,
        fusion=cfg.fusion,
        head=cfg.head,
        task=task.type,
        label_names=list(task.label_names),
        missing_ok=[s.name for s in specs] if cfg.train.modality_dropout > 0 else [],
        input_kinds={s.name: list(raw_input_kinds(s)) for s in specs},
        context=cfg.context if cfg.context is not None and cfg.context.enabled else None,
    )


def raw_input_kinds(spec: Any) -> tuple[str, ...]:
    """The raw input kinds of the plugin that extracted `spec` (via the plugin manager)."""
    from ..inference.inputs import input_kinds
    from ..plugins import get_manager

    name = (spec.fingerprint or {}).get("modality")
    pm = get_manager()
    plugin = pm.get("modality", name) if name and name in pm.names("modality") else None
    return input_kinds(spec, plugin)


def check_roles(
    cfg: ExperimentConfig, store: FeatureStore, head: Any, ids: dict[str, list[str]], custom: bool
) -> None:
    """The head's own label check over every role's items (train, valid, test)."""
    splits = {"train": cfg.data.train_split, "valid": cfg.data.valid_split, "test": cfg.data.test_split}
    for role, items in ids.items():
        where = f"{store.root} split_ids[{role!r}]" if custom else f"{store.root} split {splits[role]!r}"
        check_label_values(head, item_labels(store, items, cfg.data.labels), where)


def make_loaders(
    cfg: ExperimentConfig, store: FeatureStore, model: SseftModel, ids: dict[str, list[str]]
) -> dict[str, Any]:
    tc, mods, head = cfg.train, model.modality_names, model.head
    common = {
        "head": head, "label_set": cfg.data.labels, "num_workers": tc.num_workers, "context": model.config.context,
    }  # fmt: skip
    loaders = {
        "train": make_loader(
            store,
            ids["train"],
            mods,
            tc.batch_size,
            seed=tc.seed,
            shuffle=True,
            bucket=tc.bucket_by_length,
            **common,
        )
    }
    for role in ("valid", "test"):
        if role in ids:
            loaders[role] = make_loader(store, ids[role], mods, tc.eval_batch_size or tc.batch_size, **common)
    return loaders


def restore(run: Run) -> None:
    """Load the latest checkpoint (model, optimizer, scheduler, RNG, TrainState) and its best weights."""
    root = run.out / "checkpoints"
    if run.accelerator.is_main_process:
        ck.clean_temp(root)
    run.accelerator.wait_for_everyone()
    last = ck.latest_checkpoint(root)
    if last is None:
        run.say(f"--resume: no checkpoint in {root}; starting from scratch")
        return
    ck.load_checkpoint(run.accelerator, last)
    st = run.state
    if not run.accelerator.is_main_process:  # the checkpointed sums are the main process's share
        st.loss_sum, st.loss_count = 0.0, 0
    if run.accelerator.is_main_process:
        ck.restore_best(last, run.best_path)
    run.accelerator.wait_for_everyone()
    run.started_at, run.resumed_from = st.position(), last.name
    run.say(f"resumed from {last.name} (epoch {st.epoch}, batch {st.batches_done})")


def progress_bar(run: Run, progress: bool | None) -> Any:
    from tqdm.auto import tqdm

    show = progress if progress is not None else sys.stderr.isatty()
    n = len(run.loaders["train"])
    return tqdm(
        total=n * run.cfg.train.epochs,
        initial=n * run.state.epoch + run.state.batches_done,
        disable=not (run.accelerator.is_main_process and show),
        desc=run.cfg.name,
        unit="batch",
        dynamic_ncols=True,
    )
