"""SavedModel export in TF Serving's layout: ``DIR/<name>/<version>/saved_model.pb``.

The SavedModel has the ``serve`` tag and two signatures:

- ``serving_default``: ``image`` uint8 ``[1, H, W, 3]`` (any H, W >= ``MIN_IMAGE_SIDE``) ->
  ``probability`` float32 ``[1, H, W]`` and ``fov`` uint8 ``[1, H, W]``; FOV, its diameter and
  the resampling to the network's learned scale (and back), preprocessing and overlap-tile
  prediction run inside the graph (see ``signatures.photograph_fn``).
- ``tile``: ``tiles`` float32 ``[B, T, T, C]`` (preprocessed) -> ``probability`` float32
  ``[B, t, t]``, for clients that tile on their side.

The bundle card, extended by an ``export`` section, is stored as
``assets.extra/vesselnet_card.json`` (TF Serving ignores ``assets.extra``). Every version
directory is written under a temporary name (``.tmp-<version>-<pid>``, which TF Serving does not
take for a version) and renamed when complete; ``DIR/models.config`` lists every model in
``DIR`` for ``tensorflow_model_server --model_config_file``. Temporaries left by a killed
export (``.tmp-<version>-<pid>`` of a process no longer running, and the like) are removed by
the next export into the same folder (:func:`remove_stale_exports`).

Example:
    >>> model, card = load_bundle("runs/drive/best")
    >>> export_saved_model(model, card, "export", name="vesselnet")
    PosixPath('export/vesselnet/1')
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import keras
import tensorflow as tf

from vesselnet import __version__
from vesselnet.card import ExportRecord, ModelCard, now
from vesselnet.core.checks import check_int
from vesselnet.core.files import atomic_directory, atomic_write_text, remove_stale_temporaries
from vesselnet.export.signatures import (
    MIN_IMAGE_SIDE,
    PROBABILITY_OUTPUT,
    photograph_fn,
    photograph_spec,
    tile_probability_fn,
    tile_spec,
)
from vesselnet.inference import DEFAULT_BATCH_SIZE, TileGeometry, output_activation, tile_geometry

CARD_ASSET = Path("assets.extra") / "vesselnet_card.json"
MODELS_CONFIG = "models.config"
SIGNATURES = ("serving_default", "tile")


def export_geometry(model: keras.Model, card: ModelCard,
                    tile_size: int | None = None) -> TileGeometry:
    """The tile geometry of an export: ``tile_size`` if given, else the card's training tile
    for valid padding, else the valid size nearest 572 (same-padding networks train on small
    patches, e.g. 48x48, which would be a poor tile for whole photographs).

    Raises:
        ValueError: ``tile_size`` is not valid for the network (the nearest valid size is
            taken only when the network accepts it; a fixed-size network refuses others).
    """
    if tile_size is not None:
        return tile_geometry(model, tile_size)
    stored = card.tile_geometry
    if stored and stored.margin:  # valid padding: the training tile
        return stored
    return tile_geometry(model)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or not name.replace("-", "").replace(
            "_", "").isalnum():
        raise ValueError(f"name must be letters, digits, '-' or '_', got {name!r}")


def existing_versions(model_dir: str | Path) -> list[int]:
    """Integer version directories under ``model_dir`` holding a ``saved_model.pb``, sorted."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(entry.name) for entry in model_dir.iterdir()
                  if entry.name.isdigit() and (entry / "saved_model.pb").is_file())


def remove_stale_exports(out_dir: str | Path, name: str) -> list[Path]:
    """Removes what killed exports of model ``name`` left in ``out_dir``; returns those paths.

    Only vesselnet's own temporaries of a process no longer running go: version folders
    ``out_dir/name/.tmp-<version>-<pid>`` (and ``.old-<version>-<pid>``), and the temporary
    files of ``models.config`` and of the ``name_*.tflite`` / ``.json`` files in ``out_dir``.

    Example:
        >>> remove_stale_exports("export", "vesselnet")
        [PosixPath('export/vesselnet/.tmp-2-31337')]
    """
    _check_name(name)
    out_dir = Path(out_dir)
    own_files = rf"{re.escape(MODELS_CONFIG)}|{re.escape(name)}_[0-9]+_[a-z0-9]+\.(tflite|json)"
    return (remove_stale_temporaries(out_dir / name, r"[0-9]+")
            + remove_stale_temporaries(out_dir, own_files))


def export_card(card: ModelCard, *, geometry: TileGeometry, activation: str, fmt: str,
                **details) -> ModelCard:
    """The model card plus an ``export`` record describing the exported file; its
    ``tile_geometry`` becomes the export's tile."""
    export = ExportRecord(format=fmt, tile_geometry=geometry, network_activation=activation,
                          vesselnet_version=__version__, created=now(), **details)
    return dataclasses.replace(card, tile_geometry=geometry, export=export)


def write_models_config(out_dir: str | Path) -> Path:
    """Writes ``out_dir/models.config`` (TF Serving text format) naming every model there."""
    out_dir = Path(out_dir).resolve()
    names = sorted(entry.name for entry in out_dir.iterdir()
                   if entry.is_dir() and existing_versions(entry))
    entries = "".join(f'  config {{\n    name: "{name}"\n    base_path: "{out_dir / name}"\n'
                      f'    model_platform: "tensorflow"\n  }}\n' for name in names)
    text = ("# TF Serving model config written by `vesselnet export` (protobuf text format).\n"
            "# tensorflow_model_server --rest_api_port=8501 --model_config_file=THIS_FILE\n"
            "# In docker, mount this folder at /models and change each base_path to\n"
            "# /models/<name>. TF Serving serves the highest version of each model.\n"
            f"model_config_list {{\n{entries}}}\n")
    return atomic_write_text(out_dir / MODELS_CONFIG, text)


def export_saved_model(model: keras.Model, card: ModelCard, out_dir: str | Path, *,
                       name: str = "vesselnet", version: int | None = None,
                       tile_size: int | None = None, overlap: int | None = None,
                       batch_size: int = DEFAULT_BATCH_SIZE) -> Path:
    """Writes ``model`` as SavedModel ``out_dir/name/version`` and updates ``models.config``.

    Args:
        model: the network (output ``"final"`` is exported).
        card: its bundle card (``preprocessing`` is read; ``tile_geometry`` when no
            ``tile_size``).
        out_dir: the model base folder (TF Serving's ``/models``).
        name: model name, the folder under ``out_dir``. Defaults to ``"vesselnet"``.
        version: integer version >= 1. Defaults to None: one above the highest present.
        tile_size: input tile side used inside the graph and by the ``tile`` signature.
            Defaults to None (the card's tile, else near 572).
        overlap: output-tile overlap inside ``serving_default``. Defaults to None.
        batch_size: tiles per network call inside ``serving_default``. Defaults to 1.

    Returns:
        The version directory.

    Raises:
        ValueError: a bad name, version (also: already exported) or tile size.
    """
    _check_name(name)
    remove_stale_exports(out_dir, name)
    model_dir = Path(out_dir) / name
    if version is None:
        version = (existing_versions(model_dir) or [0])[-1] + 1
    check_int("version", version, 1)
    target = model_dir / str(version)
    if target.exists():
        following = max([version, *existing_versions(model_dir)]) + 1
        raise ValueError(f"{target} exists: TF Serving versions are immutable; give another "
                         f"version, or none for the next ({following})")
    config = card.preprocessing
    geometry = export_geometry(model, card, tile_size)
    activation = output_activation(model)
    if model.input_shape[-1] != config.channels:
        raise ValueError(f"the card's preprocessing gives {config.channels} channel(s) but the "
                         f"network takes {model.input_shape[-1]}")
    tile_fn = tile_probability_fn(model, activation)
    signatures = {
        "serving_default": (photograph_fn(model, config, geometry, overlap=overlap,
                                          batch_size=batch_size, activation=activation,
                                          learned_fov_diameter=card.learned_fov_diameter),
                            photograph_spec()),
        "tile": (lambda tiles: {PROBABILITY_OUTPUT: tile_fn(tiles)},
                 tile_spec(geometry, config.channels)),
    }
    details = {"name": name, "version": version, "signatures": SIGNATURES,
               "min_image_side": MIN_IMAGE_SIDE}
    with atomic_directory(target) as temporary:
        save_signatures(temporary, signatures)
        _write_card(temporary, export_card(card, geometry=geometry, activation=activation,
                                           fmt="saved_model", **details))
    write_models_config(out_dir)
    return target


def save_signatures(directory: str | Path, signatures: dict) -> None:
    """Writes a SavedModel (tag ``serve``) holding ``signatures`` and the variables they use.

    A ``tf.Module`` holding the functions and the variables they capture is saved with
    ``tf.saved_model.save``, as Keras' ``ExportArchive`` does, minus its second copy of every
    variable (through the Keras wrappers: 8 MB instead of 4 for the DRIVE model). Tracking the
    Keras model itself instead would save a SavedModel that ``tf.saved_model.load`` runs but
    TF Serving's session loader and the TFLite converter do not (variables not restored).

    Args:
        directory: the SavedModel directory to write.
        signatures: ``{name: (function, input TensorSpec)}``; each function takes one tensor
            named as its spec and returns a dict of named tensors.
    """
    module = tf.Module()
    functions, variables = {}, {}
    for name, (function, spec) in signatures.items():
        functions[name] = tf.function(function, input_signature=[spec])
        setattr(module, f"{name}_function", functions[name])
        for variable in functions[name].get_concrete_function().variables:
            variables[id(variable)] = variable
    # the tf.Variables the graphs capture, not the Keras wrappers around them: the session
    # loader of TF Serving (and saved_model_cli run) restores exactly these
    module.captured_variables = list(variables.values())
    tf.saved_model.save(module, str(directory), signatures=functions)


def _write_card(directory: Path, card: ModelCard) -> None:
    path = directory / CARD_ASSET
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(card.to_json(), encoding="utf-8")


def is_saved_model(path: str | Path) -> bool:
    """True for a SavedModel directory (``saved_model.pb`` or ``.pbtxt`` inside)."""
    path = Path(path)
    return path.is_dir() and tf.saved_model.contains_saved_model(str(path))
