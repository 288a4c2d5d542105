"""The ``vesselnet`` command line: thin Click entries over library functions."""

from __future__ import annotations

import json
import os

import click

from vesselnet import __version__

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter quiet


def _load_tensorflow_quietly() -> None:
    """Import TensorFlow and find its devices with native stderr silenced.

    TensorFlow's C++ start-up lines (oneDNN, missing CUDA drivers) ignore
    ``TF_CPP_MIN_LOG_LEVEL``; they are hidden unless ``VESSELNET_DEBUG`` is set. Python-level
    errors are unaffected: the file descriptor is restored before anything else runs.
    """
    if os.environ.get("VESSELNET_DEBUG"):
        import tensorflow  # noqa: F401
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf

            tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _fail_cleanly(error: Exception) -> click.ClickException:
    return click.ClickException(str(error))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vesselnet")
@click.pass_context
def main(context):
    """Segment blood vessels in colour fundus photographs."""
    if context.invoked_subcommand is not None and "--help" not in context.args:
        _load_tensorflow_quietly()


@main.command("models")
@click.argument("arch", required=False)
@click.option("--input-size", type=int, default=None,
              help="Input tile side. Default: the smallest valid one.")
@click.option("--channels", type=int, default=1, show_default=True, help="Input channels.")
@click.option("--filters", type=int, default=64, show_default=True,
              help="Channels of the first level, doubling per level.")
@click.option("--depth", type=int, default=5, show_default=True,
              help="Resolution levels (5 = four poolings, as the U-Net paper).")
@click.option("--n-classes", type=int, default=2, show_default=True, help="Output maps.")
@click.option("--padding", type=click.Choice(["valid", "same"]), default="valid",
              show_default=True)
@click.option("--batch-norm/--no-batch-norm", default=False, show_default=True)
@click.option("--dropout", type=float, default=0.0, show_default=True)
@click.option("--output-activation", type=click.Choice(["log_softmax", "softmax", "sigmoid"]),
              default="log_softmax", show_default=True)
@click.option("--steps", type=int, default=None, help="r2unet: recurrent steps t (default 2).")
@click.option("--ru-net", is_flag=True, help="r2unet: drop the residual sums (RU-Net).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models_command(arch, input_size, channels, filters, depth, n_classes, padding, batch_norm,
                   dropout, output_activation, steps, ru_net, as_json):
    """List the architectures, or describe ARCH: input and output size, parameters, layers.

    Example: vesselnet models unet --input-size 572 --json
    """
    from vesselnet.models import ARCHITECTURES, summarize

    if arch is None:
        if as_json:
            click.echo(json.dumps({"architectures": ARCHITECTURES}, indent=2))
        else:
            click.echo("Architectures (vesselnet models ARCH for details):")
            for name, text in ARCHITECTURES.items():
                click.echo(f"  {name:<9} {text}")
        return
    options = {}
    if batch_norm:
        options["batch_norm"] = True
    if dropout:
        options["dropout"] = dropout
    if output_activation != "log_softmax":
        options["output_activation"] = output_activation
    if steps is not None:
        options["steps"] = steps
    if ru_net:
        options["residual"] = False
    try:
        summary = summarize(arch, input_size=input_size, channels=channels, filters=filters,
                            depth=depth, n_classes=n_classes, padding=padding, **options)
    except ValueError as error:
        raise _fail_cleanly(error) from None
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    click.echo(f"{summary.arch}: {ARCHITECTURES[summary.arch]}")
    click.echo(f"  input           {summary.input_size} x {summary.input_size} x {channels}")
    click.echo(f"  output          {summary.output_size} x {summary.output_size} x {n_classes}")
    click.echo(f"  valid inputs    {summary.smallest_input_size} + k * {summary.input_size_step}")
    click.echo(f"  parameters      {summary.parameters:,}")
    click.echo(f"  conv layers     {summary.conv_layers}")
    click.echo(f"  layers          {summary.layers}")


@main.command("fit")
@click.argument("run_dir", required=False, type=click.Path(file_okay=False))
@click.option("--config", "config_source", default=None,
              help="TOML file, or preset name (synthetic, drive, chase_db1). "
                   "Default: all defaults.")
@click.option("--resume", "resume_dir", default=None, type=click.Path(file_okay=False),
              help="Continue the run in this directory from its last checkpoint.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override one setting; VALUE is a TOML literal (repeatable).")
@click.option("--steps", type=int, default=None, help="Shortcut for --set training.steps=N.")
@click.option("--batch-size", type=int, default=None,
              help="Shortcut for --set training.batch_size=N (global batch).")
@click.option("--data-dir", default=None, help="Shortcut for --set data.data_dir=PATH.")
@click.option("--precision", type=click.Choice(["float32", "mixed_float16", "mixed_bfloat16"]),
              default=None, help="Shortcut for --set training.precision=...")
@click.option("--strategy", type=click.Choice(["default", "mirrored", "multiworker"]),
              default=None, help="Shortcut for --set training.strategy=... "
                                 "(multiworker reads TF_CONFIG).")
@click.option("--seed", type=int, default=None, help="Shortcut for --set training.seed=N.")
def fit_command(run_dir, config_source, resume_dir, overrides, steps, batch_size, data_dir,
                precision, strategy, seed):
    """Train a network; checkpoints, logs, history and bundles go into RUN_DIR.

    \b
    Examples:
      vesselnet fit runs/demo --config synthetic
      vesselnet fit runs/drive --config drive --data-dir ../shared/datasets/DRIVE
      vesselnet fit --resume runs/drive
      vesselnet fit runs/x --config drive --data-dir D --set optimizer.name=sgd \\
          --set optimizer.learning_rate=0.01 --steps 200
    """
    from pathlib import Path

    from vesselnet.config import load_config

    if (run_dir is None) == (resume_dir is None):
        raise click.UsageError("give RUN_DIR for a new run or --resume RUN_DIR, not both")
    shortcuts = {"training.steps": steps, "training.batch_size": batch_size,
                 "training.precision": precision, "training.strategy": strategy,
                 "training.seed": seed}
    settings = [f"{key}={value}" for key, value in shortcuts.items() if value is not None]
    if steps is not None:
        settings.append("training.epochs=0")
    if data_dir is not None:
        settings.append(f"data.data_dir={json.dumps(data_dir)}")
    settings.extend(overrides)
    try:
        if resume_dir is not None:
            if config_source is not None:
                raise ValueError("--resume reads RUN_DIR/config.toml; drop --config")
            source = Path(resume_dir) / "config.toml"
            if not source.is_file():
                raise ValueError(f"{resume_dir}: no config.toml, not a vesselnet run directory")
            config = load_config(source, settings)
        else:
            config = load_config(config_source, settings)
    except ValueError as error:
        raise _fail_cleanly(error) from None
    from vesselnet.training import TrainingDivergedError, fit

    try:
        result = fit(config, resume_dir or run_dir, resume=resume_dir is not None)
    except (ValueError, TrainingDivergedError) as error:  # VesselnetDataError is a ValueError
        raise _fail_cleanly(error) from None
    best = f", best validation F1 {result.best_f1:.4f} at step {result.best_step}" \
        if result.best_step >= 0 else ""
    click.echo(f"trained {result.steps} steps in {result.wall_seconds:.0f} s{best}; "
               f"bundles in {result.run_dir}")
