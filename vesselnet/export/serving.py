"""Client side of TF Serving's REST API for an exported vesselnet SavedModel.

Only NumPy and the standard library: a client needs neither TensorFlow nor vesselnet's
models to call a server. The ``:predict`` body comes in the row form (``"instances"``, one
photograph ``[H, W, 3]`` per instance) or the columnar form (``"inputs": {"image": ...}``
with the batch axis), both for the ``serving_default`` signature (input ``image`` uint8
``[1, H, W, 3]``; outputs ``probability`` float32 and ``fov`` uint8 ``[1, H, W]``).

Example:
    >>> body = predict_request(photograph)
    >>> response = post_predict(body, rest_url("localhost", 8501, "vesselnet"))
    >>> probability, fov = parse_predict_response(response)
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np

SIGNATURE_NAME = "serving_default"
INPUT_NAME = "image"
FORMS = ("instances", "inputs")


def _checked_photograph(image) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be an RGB uint8 array [H, W, 3], got dtype {image.dtype} "
                         f"and shape {image.shape}")
    return image


def predict_request(image, *, form: str = "instances",
                    signature_name: str = SIGNATURE_NAME) -> dict:
    """The JSON body of a ``:predict`` request for one photograph.

    Args:
        image: uint8 RGB photograph ``[H, W, 3]``.
        form: ``"instances"`` (row form: a list with one ``[H, W, 3]`` instance) or
            ``"inputs"`` (columnar form: ``{"image": [1, H, W, 3]}``). Defaults to
            ``"instances"``.
        signature_name: the signature to call. Defaults to ``"serving_default"``.

    Returns:
        A dict ready for ``json.dumps``.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    pixels = _checked_photograph(image).tolist()
    if form == "instances":
        return {"signature_name": signature_name, "instances": [pixels]}
    return {"signature_name": signature_name, "inputs": {INPUT_NAME: [pixels]}}


def decode_request(body: dict) -> dict[str, np.ndarray]:
    """The input tensors a ``:predict`` body carries, as TF Serving assembles them.

    Row form: instances are stacked on a new batch axis (a bare instance feeds the only
    input, ``image``). Columnar form: each named input as given. Values become uint8 when
    they are integers in 0..255 (what TF Serving does for a uint8 input), else float64.
    """
    if ("instances" in body) == ("inputs" in body):
        raise ValueError(f"body needs exactly one of 'instances' or 'inputs', got keys "
                         f"{sorted(body)}")
    if "instances" in body:
        instances = body["instances"]
        if instances and isinstance(instances[0], dict):
            tensors = {key: [instance[key] for instance in instances] for key in instances[0]}
        else:
            tensors = {INPUT_NAME: instances}
    else:
        inputs = body["inputs"]
        tensors = inputs if isinstance(inputs, dict) else {INPUT_NAME: inputs}
    decoded = {}
    for key, value in tensors.items():
        array = np.asarray(value)
        integral = (array.dtype.kind in "iu" and array.size > 0
                    and 0 <= array.min() <= array.max() <= 255)
        decoded[key] = array.astype(np.uint8) if integral else array.astype(np.float64)
    return decoded


def parse_predict_response(response: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(probability float32 [H, W], fov bool [H, W])`` from a ``:predict`` response.

    Accepts the row form (``{"predictions": [{"probability": ..., "fov": ...}]}``) and the
    columnar one (``{"outputs": {"probability": [...], "fov": [...]}}``).
    """
    if "predictions" in response:
        first = response["predictions"][0]
        probability, fov = first["probability"], first["fov"]
    elif "outputs" in response:
        probability, fov = response["outputs"]["probability"][0], response["outputs"]["fov"][0]
    else:
        raise ValueError(f"not a :predict response (keys {sorted(response)}): "
                         f"{str(response)[:200]}")
    return np.asarray(probability, np.float32), np.asarray(fov).astype(bool)


def rest_url(host: str = "localhost", port: int = 8501, name: str = "vesselnet",
             version: int | None = None) -> str:
    """``http://host:port/v1/models/name[/versions/N]:predict``."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port must be an integer in 1..65535, got {port!r}")
    versioned = "" if version is None else f"/versions/{int(version)}"
    return f"http://{host}:{port}/v1/models/{name}{versioned}:predict"


def post_predict(body: dict, url: str, timeout: float = 60.0) -> dict:
    """POSTs ``body`` as JSON to ``url`` and returns the decoded JSON answer.

    Raises:
        ValueError: the server answered with an error (its message is included).
    """
    request = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        raise ValueError(f"{url}: HTTP {error.code}: {error.read().decode('utf-8', 'replace')}"
                         ) from None
