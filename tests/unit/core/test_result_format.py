"""Format-1 results (each class's own layout, before results registered themselves) still
load, and the field-driven base checks shapes once for every result class."""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.core.axes import HeadId
from mechscope.core.codec import decode, encode
from mechscope.core.results import Result, load_result, registered_kinds
from mechscope.core.sites import Component, Site

FIXTURES = Path(__file__).parent / "fixtures" / "results_v1"
"""One result of every kind, written by the format-1 code (commit a5d9e9d) in the unit tier."""


BORN_IN_FORMAT_2 = {
    "sae-evaluation",
    "transcoder-evaluation",
    "feature-reading",
    "feature-labels",
    "feature-attribution",
    "feature-hierarchy",
    "smollm-features",
    "coreference-scores",
    "direction-readout",
    "aggregation-scores",
    "layer-dropping",
    "frozen-sweep",
    "query-key",
    "mention-similarity",
    "hierarchy",
    "edge-scores",
    "circuit-discovery",
    "acdc",
    "edge-effects",
    "logit-attribution",
    "attribution-graph",
    "graph-validation",
    "smollm-graphs",
    "feature-redundancy",
    "attention-collapse-mitigation",
    "gradient-mitigation",
    "overfitting-mitigation",
    "vit-overfitting-mitigation",
}
"""Kinds added after format 1: no file of theirs was ever written in it."""


def test_there_is_a_format_1_fixture_of_every_kind():
    assert {d.name for d in FIXTURES.iterdir()} == set(library_kinds()) - BORN_IN_FORMAT_2


def library_kinds() -> dict[str, type[Result]]:
    """The kinds mechscope and its experiments define (not this module's toy)."""
    return {
        kind: cls
        for kind, cls in registered_kinds().items()
        if cls.__module__.startswith(("mechscope.", "experiments."))
    }


@pytest.mark.parametrize("kind", sorted(d.name for d in FIXTURES.iterdir()))
def test_a_format_1_result_loads_and_saves_again_unchanged(kind, tmp_path):
    meta = json.loads((FIXTURES / kind / "result.json").read_text())
    assert meta["format_version"] == 1 and "class" not in meta
    old = load_result(FIXTURES / kind)
    assert old.kind == kind
    assert old.provenance.config == meta["config"] and old.provenance.model == meta["model"]
    # Every key the format-1 layout wrote with the same meaning is written again.
    again = old._data()
    for key, value in meta["data"].items():
        if key in again and not isinstance(again[key], list | dict) or key in ("labels",):
            assert again[key] == value, key
    old.save(tmp_path / kind)
    new = load_result(tmp_path / kind)
    assert json.loads((tmp_path / kind / "result.json").read_text())["format_version"] == 2
    assert json.dumps(new._data(), sort_keys=True) == json.dumps(again, sort_keys=True)
    ours, theirs = old._tensors(), new._tensors()
    assert ours.keys() == theirs.keys()
    for name, tensor in ours.items():
        torch.testing.assert_close(theirs[name], tensor, equal_nan=True, rtol=0, atol=0)


def test_a_format_1_result_is_found_without_its_class_recorded(tmp_path):
    shutil.copytree(FIXTURES / "patching", tmp_path / "p")
    result = load_result(tmp_path / "p")
    assert result.kind == "patching" and type(result).__name__ == "PatchingResult"
    assert all(isinstance(site, Site) for site in result.sites)  # pyright: ignore[reportAttributeAccessIssue]


def test_a_result_whose_class_has_moved_since_is_found_by_its_kind(tmp_path):
    # ClassLens lived in mechscope.vision.lens until the lens machinery took it in.
    shutil.copytree(FIXTURES / "class-lens", tmp_path / "lens")
    load_result(tmp_path / "lens").save(tmp_path / "saved")
    meta = json.loads((tmp_path / "saved" / "result.json").read_text())
    assert meta["class"] == "mechscope.lens.classes:ClassLens"
    meta["class"] = "mechscope.vision.lens:ClassLens"
    (tmp_path / "saved" / "result.json").write_text(json.dumps(meta))
    assert type(load_result(tmp_path / "saved")).__name__ == "ClassLens"


@dataclass(frozen=True)
class _Toy(Result):
    kind: ClassVar[str] = "toy-for-tests"
    heads: tuple[HeadId, ...]
    a: Float[Tensor, "row col"]
    b: Float[Tensor, " row"]
    parts: dict[str, Tensor]
    sites: tuple[Site, ...] = ()
    note: str | None = None

    def _validate(self) -> None:
        if len(self.heads) != self.b.shape[0]:
            raise ValueError("one head per row")


def test_the_base_checks_rank_and_one_size_per_axis_before_validate():
    heads = (HeadId(0, 1), HeadId(1, 0))
    ok = _Toy(heads, torch.zeros(2, 3), torch.zeros(2), {"x": torch.ones(1)})
    assert ok.a.shape == (2, 3)
    with pytest.raises(ValueError, match=r"_Toy.a has shape \(2,\); want \(row, col\)"):
        _Toy(heads, torch.zeros(2), torch.zeros(2), {})
    with pytest.raises(ValueError, match="axis 'row' is 2 in a but 3 in b"):
        _Toy(heads, torch.zeros(2, 3), torch.zeros(3), {})
    with pytest.raises(ValueError, match="_Toy.b must be a tensor, not list"):
        _Toy(heads, torch.zeros(2, 3), [0.0, 0.0], {})  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="one head per row"):
        _Toy(heads, torch.zeros(1, 3), torch.zeros(1), {})


def test_fields_drive_saving_and_loading(tmp_path):
    toy = _Toy(
        (HeadId(0, 1), HeadId(2, 3)),
        torch.arange(6.0).reshape(2, 3),
        torch.tensor([1.0, float("nan")]),
        {"first": torch.ones(2), "second": torch.zeros(3, 1)},
        (Site(Component.Z, 1, 2, None), Site(Component.EMBED)),
    ).with_provenance({"seed": 1}, "spec")
    toy.save(tmp_path)
    meta = json.loads((tmp_path / "result.json").read_text())
    assert meta["class"] == f"{__name__}:_Toy"
    assert meta["data"] == {
        "heads": ["0.1", "2.3"],
        "parts": ["first", "second"],
        "sites": [["Z", 1, 2, None], ["EMBED", None, None, None]],
        "note": None,
    }
    back = load_result(tmp_path)
    assert isinstance(back, _Toy) and back.heads == toy.heads and back.sites == toy.sites
    assert back.note is None and list(back.parts) == ["first", "second"]
    torch.testing.assert_close(back.a, toy.a)
    torch.testing.assert_close(back.b, toy.b, equal_nan=True)
    torch.testing.assert_close(back.parts["second"], toy.parts["second"])
    assert back.provenance == toy.provenance


def test_the_codec_rebuilds_values_from_their_annotations():
    assert decode(tuple[HeadId, ...], encode((HeadId(1, 2),))) == (HeadId(1, 2),)
    assert decode(dict[str, list[int]], {"a": [1]}) == {"a": [1]}
    assert decode(Component, encode(Component.K)) is Component.K
    assert decode(int | None, None) is None
    assert decode(tuple[int, str], [1, "x"]) == (1, "x")
    assert decode(float, 1) == 1.0 and isinstance(decode(float, 1), float)
