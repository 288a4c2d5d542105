"""Strategies, precision and determinism for the one custom training loop.

``MultiWorkerMirroredStrategy`` must exist before any other TensorFlow op runs in the process,
so :func:`make_strategy` is the first thing :func:`vesselnet.training.fit` calls.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os

import keras
import tensorflow as tf

from vesselnet.config.training import STRATEGIES


@dataclasses.dataclass(frozen=True)
class WorkerRole:
    """Where this process sits in the cluster.

    Args:
        is_chief: writes checkpoints, bundles, logs and history (worker 0, or a lone process).
        task_id: index of this worker (0 outside multi-worker training).
        num_workers: processes training together (1 outside multi-worker training).
    """

    is_chief: bool = True
    task_id: int = 0
    num_workers: int = 1


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``"default"``, ``"mirrored"`` (all local devices) or ``"multiworker"`` (``TF_CONFIG``).

    Raises:
        ValueError: unknown name, or ``"multiworker"`` without a usable ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", ""))["cluster"]["worker"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            "strategy 'multiworker' needs TF_CONFIG, e.g. "
            '{"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}, '
            '"task": {"type": "worker", "index": 0}}'
        ) from None
    if not cluster:
        raise ValueError(f"TF_CONFIG lists no workers: {os.environ['TF_CONFIG']}")
    return tf.distribute.MultiWorkerMirroredStrategy()


def worker_role(strategy: tf.distribute.Strategy) -> WorkerRole:
    """The :class:`WorkerRole` of this process under ``strategy``."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return WorkerRole()
    workers = len(resolver.cluster_spec().as_dict().get("worker", []))
    task_id = int(resolver.task_id or 0)
    is_chief = resolver.task_type in ("chief", None) or (
        resolver.task_type == "worker" and task_id == 0)
    return WorkerRole(is_chief=is_chief, task_id=task_id, num_workers=max(workers, 1))


@contextlib.contextmanager
def precision_policy(name: str):
    """Sets Keras's global dtype policy inside the block and restores the previous one."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if name == "float32" else name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@contextlib.contextmanager
def op_determinism(enabled: bool):
    """Enables ``tf.config.experimental.enable_op_determinism`` inside the block.

    The previous state is restored afterwards where TensorFlow offers a way to (it has no
    public ``disable``), so a library call does not change the rest of the process.
    """
    from tensorflow.python.framework import config as framework_config

    was_enabled = getattr(framework_config, "is_op_determinism_enabled", lambda: False)()
    if enabled and not was_enabled:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if enabled and not was_enabled and hasattr(framework_config, "disable_op_determinism"):
            framework_config.disable_op_determinism()


def replica_share(y_true) -> tf.Tensor:
    """This replica's share of the global batch: its summed positive pixel weights.

    The losses pool pixels over a batch (``sum(w * loss) / sum(w)``), so the global loss
    over all replicas is ``sum_r sum(w_r * loss_r) / sum_r sum(w_r)``: each replica scales its
    loss by ``local weight / global weight`` and the gradients are summed, the pixel-weighted
    analogue of ``tf.nn.compute_average_loss``. Exact for the cross-entropy losses; for Dice it
    gives the pixel-weighted mean of the replicas' batch Dice losses.
    """
    weights = tf.cast(y_true[..., 1], tf.float32)
    local = tf.reduce_sum(tf.where(weights > 0, weights, 0.0))
    context = tf.distribute.get_replica_context()
    total = context.all_reduce(tf.distribute.ReduceOp.SUM, local) if context else local
    return tf.math.divide_no_nan(local, total)
