"""TensorBoard logs read with TensorBoard's own reader: the scalars equal ``history.json`` and
the validation images (photograph, probability, errors) are there with the image's size.

Skipped when ``tensorboard`` is not installed (``pip install vesselnet[tensorboard]``; the
``dev`` extra pulls it in).
"""

import json

import numpy as np
import pytest
import tensorflow as tf
from test_training import tiny_config

from vesselnet.training import fit
from vesselnet.training.sources import read_records, split_validation
from vesselnet.training.validation import ERROR_COLOURS, error_map

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing import plugin_event_accumulator  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

CONFIG = ("training.validate_every=3",)


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    """Six steps, loss logged at 2, 4, 6, validation at 3 and 6; the logs as TensorBoard
    reads them, and the run's history."""
    run_dir = tmp_path_factory.mktemp("tensorboard") / "run"
    fit(tiny_config(*CONFIG), run_dir)
    events = plugin_event_accumulator.EventAccumulator(
        str(run_dir / "logs"), size_guidance={plugin_event_accumulator.TENSORS: 0})
    events.Reload()
    history = json.loads((run_dir / "history.json").read_text(encoding="utf-8"))
    return events, history


def series(events, tag):
    """``{step: value}`` of one tag."""
    return {event.step: tensor_util.make_ndarray(event.tensor_proto)
            for event in events.Tensors(tag)}


def test_scalars_are_those_of_history_json(logged_run):
    events, history = logged_run
    scalar_tags = set(events.PluginTagToContent("scalars"))
    expected = {"train/loss": {e["step"]: e["loss"] for e in history["train"]},
                "train/learning_rate": {e["step"]: e["learning_rate"] for e in history["train"]}}
    never_finite = set()  # NaN figures (e.g. precision with no positive) are not logged
    for key in history["validation"][0]:
        if key not in ("step", "seconds", "sets"):
            values = {e["step"]: e[key] for e in history["validation"] if e[key] is not None}
            if values:
                expected[f"validation/{key}"] = values
            else:
                never_finite.add(f"validation/{key}")
    assert {"train/loss", "validation/f1", "validation/auc"} <= set(expected) <= scalar_tags
    assert not never_finite & scalar_tags
    assert sorted(expected["train/loss"]) == [2, 4, 6]
    assert sorted(expected["validation/f1"]) == [3, 6]
    for tag, values in expected.items():
        logged = series(events, tag)
        assert sorted(logged) == sorted(values), tag
        for step, value in values.items():  # written as float32
            assert logged[step] == np.float32(value), (tag, step)


def decoded(events, tag, step):
    width, height, png = series(events, tag)[step]
    image = tf.io.decode_png(png).numpy()
    assert (int(width), int(height)) == (image.shape[1], image.shape[0])
    return image


def test_validation_images_are_logged_at_each_validation_with_the_image_size(logged_run):
    events, _ = logged_run
    image_tags = set(events.PluginTagToContent("images"))
    assert {"validation/photograph", "validation/probability", "validation/errors",
            "validation/input_probability_truth"} <= image_tags
    for tag in ("validation/photograph", "validation/probability", "validation/errors"):
        assert sorted(series(events, tag)) == [3, 6], tag
    config = tiny_config(*CONFIG)
    _, held = split_validation(read_records(config.data), config.data)
    record = held[0]
    photograph = decoded(events, "validation/photograph", 6)
    assert photograph.shape == (96, 96, 3)
    np.testing.assert_array_equal(photograph, record.image)
    probability = decoded(events, "validation/probability", 6)
    assert probability.shape == (96, 96, 1)
    # the error map is the one of the logged probability map (128 / 255 > 0.5 > 127 / 255)
    errors = decoded(events, "validation/errors", 6)
    expected = error_map(probability[..., 0] / 255.0, record.vessels, record.fov)
    np.testing.assert_array_equal(errors, np.round(expected * 255).astype(np.uint8))
    palette = {tuple(np.round(np.array(colour) * 255).astype(int)) for colour in
               ERROR_COLOURS.values()} | {(0, 0, 0)}
    assert {tuple(pixel) for pixel in errors.reshape(-1, 3)} <= palette


@pytest.mark.parametrize("probability, vessel, inside, colour", [
    (0.9, True, True, (1.0, 1.0, 1.0)),  # true positive: white
    (0.9, False, True, (1.0, 0.0, 0.0)),  # false positive: red
    (0.2, True, True, (0.0, 0.4, 1.0)),  # false negative: blue
    (0.2, False, True, (0.0, 0.0, 0.0)),  # true negative: black
    (0.5, True, True, (0.0, 0.4, 1.0)),  # 0.5 is not above the threshold
    (0.9, True, False, (0.25, 0.25, 0.25)),  # outside the FOV: grey whatever it is
])
def test_error_map_colours(probability, vessel, inside, colour):
    image = error_map(np.array([[probability]]), np.array([[vessel]]), np.array([[inside]]))
    assert image.shape == (1, 1, 3) and image.dtype == np.float32
    np.testing.assert_allclose(image[0, 0], colour)
