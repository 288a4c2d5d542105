"""Labelled output pixels per second of a full training step, on this machine's CPU.

A step is what :func:`vesselnet.training.fit` runs: forward pass, the training objective
(stochastic weighted cross-entropy; for the chained model plus 0.5 x the stage-1 loss),
gradients and an Adam update, inside one ``tf.function`` under the default strategy. Inputs
are random tiles (the data pipeline is measured by ``bench_pipeline.py``). For each
architecture, padding, width, tile and batch size it prints the step time and labelled
pixels per second (``batch * output_side**2 / step time``): valid padding spends compute on
context pixels that are never labelled, so this is the figure to maximise.

    PYTHONPATH=. python3 benchmarks/bench_training.py             # the full grid
    PYTHONPATH=. python3 benchmarks/bench_training.py --quick     # a few rows, few steps
    PYTHONPATH=. python3 benchmarks/bench_training.py --arch chained --filters 16 32 \\
        --outputs 68 100 132 --batch-sizes 4 8 --padding valid
"""

from __future__ import annotations

import argparse
import itertools
import time

import keras
import numpy as np
import tensorflow as tf

from vesselnet.config import LossConfig, ModelConfig, OptimizerConfig
from vesselnet.config.model import geometry
from vesselnet.models import build_model, input_size_for_output
from vesselnet.training.objective import TrainingObjective
from vesselnet.training.optimizers import build_optimizer
from vesselnet.training.step import make_train_step


def tile_for_output(arch: str, depth: int, padding: str, wanted_output: int) -> tuple[int, int]:
    """``(input side, output side)`` of the smallest valid tile with at least that output."""
    config = ModelConfig(arch=arch, depth=depth, padding=padding)
    shrink, stages = geometry(arch)
    size = input_size_for_output(wanted_output, depth, padding, shrink=shrink, stages=stages)
    return size, config.output_size(size)


def time_step(arch, filters, depth, padding, input_size, batch_size, steps, warmup=2):
    """Seconds per training step (median of ``steps`` after ``warmup``)."""
    keras.utils.set_random_seed(0)
    model_config = ModelConfig(arch=arch, filters=filters, depth=depth, padding=padding)
    model = build_model(arch, input_size=None, filters=filters, depth=depth, padding=padding)
    loss_scaling = keras.config.dtype_policy().name == "mixed_float16"
    optimizer = build_optimizer(OptimizerConfig(name="adam"), 1000, loss_scaling=loss_scaling)
    optimizer.build(model.trainable_variables)
    objective = TrainingObjective(LossConfig(options={"alpha": 5.0}), model_config, seed=0)
    counter = tf.Variable(0, dtype=tf.int64)
    step = make_train_step(tf.distribute.get_strategy(), model, optimizer, objective, counter)
    output_size = model_config.output_size(input_size)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((batch_size, input_size, input_size, 1), np.float32))
    labels = rng.random((batch_size, output_size, output_size)) < 0.12
    y = tf.constant(np.stack([labels, np.ones_like(labels)], -1).astype(np.float32))
    times = []
    for index in range(warmup + steps):
        start = time.perf_counter()
        float(step((x, y)))
        if index >= warmup:
            times.append(time.perf_counter() - start)
    return float(np.median(times)), output_size, model.count_params()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few rows, 3 timed steps")
    parser.add_argument("--arch", nargs="+", default=["unet", "chained"])
    parser.add_argument("--padding", nargs="+", default=["valid", "same"])
    parser.add_argument("--filters", nargs="+", type=int, default=[16, 32])
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--outputs", nargs="+", type=int, default=[64, 96, 128],
                        help="wanted output sides (valid padding: input chosen to fit)")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[4, 8])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--precision", default="float32",
                        choices=["float32", "mixed_float16", "mixed_bfloat16"])
    args = parser.parse_args()
    if args.quick:
        args.arch, args.filters, args.outputs, args.batch_sizes, args.steps = (
            ["unet", "chained"], [16], [64, 128], [4], 3)
    keras.config.set_dtype_policy(args.precision)
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"{len(tf.config.list_logical_devices('CPU'))} CPU device(s), {args.precision}, Adam, "
          f"depth {args.depth}; median of {args.steps} steps")
    header = (f"{'arch':<8}{'padding':<8}{'filters':>8}{'params':>10}{'input':>7}{'output':>7}"
              f"{'batch':>6}{'s/step':>9}{'tiles/s':>9}{'labelled px/s':>15}")
    print(header)
    print("-" * len(header))
    grid = itertools.product(args.arch, args.padding, args.filters, args.outputs,
                             args.batch_sizes)
    for arch, padding, filters, wanted, batch_size in grid:
        input_size, _ = tile_for_output(arch, args.depth, padding, wanted)
        seconds, output_size, params = time_step(arch, filters, args.depth, padding,
                                                 input_size, batch_size, args.steps)
        pixels = batch_size * output_size**2 / seconds
        print(f"{arch:<8}{padding:<8}{filters:>8}{params:>10,}{input_size:>7}{output_size:>7}"
              f"{batch_size:>6}{seconds:>9.3f}{batch_size / seconds:>9.2f}{pixels:>15,.0f}",
              flush=True)


if __name__ == "__main__":
    main()
