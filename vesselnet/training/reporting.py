"""What a run shows while it trains: a progress bar (or plain lines) and TensorBoard logs.

TensorFlow 2.21 no longer depends on the ``tensorboard`` package, and ``tf.summary.scalar`` /
``tf.summary.image`` need it. The logs are therefore written with the low-level
``tf.summary.write`` and the metadata TensorBoard's scalar and image plugins read, so that
event files are complete whether or not TensorBoard is installed where training runs.
"""

from __future__ import annotations

import sys
import time

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2


class Progress:
    """Progress bar with ETA and running loss on a terminal; a plain line per interval else.

    Args:
        total_steps: steps of the whole run.
        first_step: the step the run starts (or resumes) from.
        every: steps between plain lines when the output is not a terminal.
        enabled: False shows nothing (non-chief workers). Defaults to True.
        stream: where plain lines go. Defaults to ``sys.stdout``.
    """

    def __init__(self, total_steps: int, first_step: int, every: int, enabled: bool = True,
                 stream=None):
        self.stream = stream or sys.stdout
        self.enabled = enabled
        self.every = every
        self.total_steps = total_steps
        self.first_step = first_step
        self.started = time.monotonic()
        interactive = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar = None
        if interactive:
            self.bar = keras.utils.Progbar(total_steps, stateful_metrics=["loss", "lr"])
            self.bar.update(first_step)

    def update(self, step: int, running_loss: float, learning_rate: float) -> None:
        """Reports that ``step`` steps are done."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(step, [("loss", running_loss), ("lr", learning_rate)])
            return
        if step % self.every and step != self.total_steps:
            return
        elapsed = time.monotonic() - self.started
        rate = (step - self.first_step) / elapsed if elapsed > 0 else 0.0
        eta = (self.total_steps - step) / rate if rate > 0 else float("nan")
        self.message(f"step {step}/{self.total_steps}  loss {running_loss:.4f}  "
                     f"lr {learning_rate:.3g}  {rate:.2f} steps/s  ETA {eta:.0f} s")

    def message(self, text: str) -> None:
        """Prints one line (on its own line also under a progress bar)."""
        if self.enabled:
            if self.bar is not None:
                self.stream.write("\n")
            self.stream.write(text + "\n")
            self.stream.flush()


def _metadata(plugin: str, data_class: int) -> bytes:
    metadata = summary_pb2.SummaryMetadata(data_class=data_class)
    metadata.plugin_data.plugin_name = plugin
    return metadata.SerializeToString()


_SCALAR = _metadata("scalars", summary_pb2.DATA_CLASS_SCALAR)
_IMAGE = _metadata("images", summary_pb2.DATA_CLASS_BLOB_SEQUENCE)


class TensorBoardLog:
    """``tf.summary`` scalars and images under ``RUN_DIR/logs`` (chief only; else no-op)."""

    def __init__(self, log_dir, enabled: bool = True):
        self.writer = tf.summary.create_file_writer(str(log_dir)) if enabled else None

    def scalars(self, step: int, values: dict) -> None:
        """Writes every finite number of ``values`` at ``step``."""
        if self.writer is None:
            return
        with self.writer.as_default(step=step):
            for name, value in values.items():
                if value is not None and np.isfinite(value):
                    tf.summary.write(name, tf.constant(float(value), tf.float32),
                                     metadata=_SCALAR)
        self.writer.flush()

    def image(self, step: int, name: str, image: np.ndarray) -> None:
        """Writes one ``[H, W, C]`` image in [0, 1]."""
        if self.writer is None:
            return
        with self.writer.as_default(step=step):
            pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
            png = tf.image.encode_png(pixels)
            height, width = pixels.shape[:2]
            tensor = tf.stack([tf.as_string(width), tf.as_string(height), png])
            tf.summary.write(name, tensor, metadata=_IMAGE)
        self.writer.flush()

    def close(self) -> None:
        """Flushes and closes the writer."""
        if self.writer is not None:
            self.writer.close()
