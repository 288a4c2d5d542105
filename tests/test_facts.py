"""Network facts: what prediction needs to know, read from a model's own layers."""

import keras
import pytest

from vesselnet.inference import geometry as geometry_module
from vesselnet.inference import tile_geometry
from vesselnet.models import (
    NetworkFacts,
    TileGeometry,
    build_model,
    describe_network,
    ensemble_model,
    model_output_size,
)


@pytest.mark.parametrize("arch, options, expected", [
    ("unet", dict(depth=3), dict(depth=3, padding="valid", shrink=4, stages=1)),
    ("unet", dict(depth=2, padding="same"), dict(depth=2, padding="same", shrink=4, stages=1)),
    ("resunet", dict(depth=3), dict(depth=3, padding="valid", shrink=4, stages=1)),
    ("r2unet", dict(depth=3), dict(depth=3, padding="valid", shrink=12, stages=1)),
    ("r2unet", dict(depth=2, steps=1), dict(depth=2, padding="valid", shrink=8, stages=1)),
    ("chained", dict(depth=4), dict(depth=4, padding="valid", shrink=4, stages=2)),
    ("chained", dict(depth=3, padding="same", output_activation="softmax"),
     dict(depth=3, padding="same", shrink=4, stages=2)),
])
def test_facts_of_every_architecture_match_the_size_arithmetic_and_keras(arch, options,
                                                                         expected):
    model = build_model(arch, filters=2, **options)
    facts = describe_network(model)
    assert {key: getattr(facts, key) for key in expected} == expected
    assert facts.activation == options.get("output_activation", "log_softmax")
    assert facts.outputs == (("stage1", "final") if arch == "chained" else ("final",))
    assert facts.alignment == 2 ** (options["depth"] - 1)
    size_options = {"steps": options["steps"]} if "steps" in options else {}
    valid = [size for size in range(1, 400) if facts.output_size(size)][:3]
    assert len(valid) == 3
    for size in valid:
        assert facts.output_size(size) == model_output_size(
            arch, size, options["depth"], options.get("padding", "valid"), **size_options)
        output = model.compute_output_spec(keras.KerasTensor((1, size, size, 1)))
        output = output["final"] if isinstance(output, dict) else output
        assert output.shape[1] == facts.output_size(size)


def test_facts_of_fixed_size_models_ensembles_and_other_models():
    fixed = describe_network(build_model("unet", filters=2, depth=3, input_size=140))
    assert fixed.fixed == TileGeometry(140, 100, 4) and fixed.output_size(144) is None
    chained = build_model("chained", filters=2, depth=3, padding="same")
    unet = build_model("unet", filters=2, depth=2, padding="same", output_activation="softmax")
    facts = describe_network(ensemble_model([chained, unet]))
    assert len(facts.members) == 2 and facts.activation == "log_softmax"
    assert facts.alignment == 4 and facts.output_size(48) == 48 and facts.output_size(46) is None
    inputs = keras.Input((None, None, 1))
    plain = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="output")(inputs))
    assert describe_network(plain) is None  # not of the family: tile_geometry probes it


def test_facts_and_probing_agree(monkeypatch):
    model = build_model("r2unet", filters=2, depth=2)
    analytic = [tile_geometry(model, size) for size in (40, 57, 90)]
    monkeypatch.setattr(geometry_module, "network_facts", lambda model: None)
    assert [tile_geometry(model, size) for size in (40, 57, 90)] == analytic


def test_bad_facts_raise_value_error():
    with pytest.raises(ValueError, match="activation must be one of.*'relu'"):
        NetworkFacts(1, "relu")
    with pytest.raises(ValueError, match="channels must be an integer >= 1, got 0"):
        NetworkFacts(0, "sigmoid")
