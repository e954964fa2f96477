"""Running an extractor on a batch, the one way: the whole batch first, then item by item when the
batch as a whole breaks, so that one bad input fails alone (used by the extraction engine, the
Predictor and extractors' own sub-batches).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ExtractionError
from ..protocols import Extracted

if TYPE_CHECKING:
    from ..protocols import Extractor

T = TypeVar("T")
R = TypeVar("R")


def reason_of(e: BaseException) -> str:
    """An exception as one line (its type name when it has no message)."""
    msg = " ".join(str(e).split())
    return msg if msg else type(e).__name__


def run_with_retry(fn: Callable[[list[T]], Sequence[R]], inputs: Sequence[T]) -> list[R | Exception]:
    """`fn(inputs)`, one result per input; when `fn` raises on the batch, `fn([x])` for each input,
    the exception of an input that fails alone taking its place. An `ExtractionError` on the batch
    (an encoder that cannot run at all) and a result count that does not match the inputs stop the
    job: retrying item by item could not fix them."""
    batch = list(inputs)
    if not batch:
        return []
    try:
        outs = list(fn(batch))
    except ExtractionError:
        raise
    except Exception as e:
        if len(batch) == 1:
            return [e]
        retried: list[R | Exception] = []
        for x in batch:
            try:
                (one,) = list(fn([x]))
                retried.append(one)
            except Exception as e1:
                retried.append(e1)
        return retried
    if len(outs) != len(batch):
        raise ExtractionError(f"extractor returned {len(outs)} results for {len(batch)} inputs")
    result: list[R | Exception] = list(outs)
    return result


def run_extractor(ex: Extractor, raws: Sequence[Any]) -> list[Extracted | Exception]:
    """`ex` on `raws` (with the retry above); every output as an `Extracted` (a bare tensor gets no
    notes) or the input's exception."""
    out: list[Extracted | Exception] = []
    for o in run_with_retry(ex, raws):
        if isinstance(o, Extracted):
            out.append(o)
        elif isinstance(o, BaseException):
            out.append(o if isinstance(o, Exception) else RuntimeError(reason_of(o)))
        else:
            out.append(Extracted(o))
    return out
