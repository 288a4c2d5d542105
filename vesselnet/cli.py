"""The ``vesselnet`` command line: thin Click entries over library functions."""

from __future__ import annotations

import json
import os

import click

from vesselnet import __version__

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter quiet


def _fail_cleanly(error: Exception) -> click.ClickException:
    return click.ClickException(str(error))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vesselnet")
def main():
    """Segment blood vessels in colour fundus photographs."""


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
