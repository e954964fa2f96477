"""One ModalitySpec: the store's ModalityInfo and the model's ModalitySpec share one declaration of
the stored fields (core/specs.py StoredFeatures); a spec is derived from what the store recorded."""

from __future__ import annotations

from sseft.core.features import ModalityInfo
from sseft.core.specs import ModalitySpec, ProjectionSpec, StoredFeatures


def test_stored_fields_are_declared_once() -> None:
    stored = set(StoredFeatures.model_fields)
    assert stored == {"dim", "provides_cls", "max_len", "fingerprint"}
    assert stored <= set(ModalityInfo.model_fields) and stored <= set(ModalitySpec.model_fields)
    # the store adds only what it alone knows; the model's choices are not in the store
    assert set(ModalityInfo.model_fields) - stored == {"dtype"}
    assert not {"prepend_cls", "project", "heads", "standardize"} & set(ModalityInfo.model_fields)


def test_spec_derives_every_stored_field_and_adds_the_models_choices() -> None:
    info = ModalityInfo(dim=6, provides_cls=True, max_len=40, fingerprint={"modality": "text", "v": 2})
    spec = info.spec("text", prepend_cls="always", project=ProjectionSpec(dim=8), heads=2)
    assert (spec.name, spec.dim, spec.provides_cls, spec.max_len) == ("text", 6, True, 40)
    assert spec.fingerprint == {"modality": "text", "v": 2} and spec.fingerprint is not info.fingerprint
    assert (spec.prepend_cls, spec.width, spec.heads) == ("always", 8, 2)
    assert spec.stored_fields() == info.stored_fields()


def test_an_empty_store_fingerprint_is_none_in_the_spec_and_a_dict_in_the_store() -> None:
    info = ModalityInfo(dim=3)
    assert info.fingerprint == {} and info.model_dump()["fingerprint"] == {}  # headers keep matching
    assert info.spec("b").fingerprint is None  # as artifacts have always recorded it
