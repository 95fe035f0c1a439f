"""The shipped ViTs: their held-out accuracy, as logged when they were trained and as here."""

import pytest

from mechscope.data.images import load_image_set
from mechscope.models import HookedViT, adapt, load_model
from mechscope.models.bundled import BUNDLED
from mechscope.training.config import VitTrainConfig
from mechscope.training.run_dir import read_metrics, read_recipe
from mechscope.training.vision import accuracy_and_loss

SHIPPED = [("vit-digits", "digits", 0.95), ("vit-shapes", "shapes", 0.96)]


@pytest.mark.parametrize(("name", "dataset", "floor"), SHIPPED)
def test_a_shipped_vit_classifies_held_out_images_as_logged(name, dataset, floor):
    model = load_model(name, device="cpu")
    assert isinstance(model, HookedViT) and adapt(model).spec == name
    assert read_recipe(BUNDLED[name](), VitTrainConfig) == VitTrainConfig(dataset=dataset)
    held_out = load_image_set(dataset).part(held_out=True)
    _, accuracy, se = accuracy_and_loss(model, held_out)
    logged = read_metrics(BUNDLED[name]())[-1]
    assert logged["step"] == 2000
    assert accuracy == pytest.approx(logged["held_out_accuracy"], abs=1e-6)
    assert accuracy - 2 * se > floor - 0.02 and accuracy > floor  # README: 0.967 and 0.980
