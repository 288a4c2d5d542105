"""The ``vesselnet`` command line: thin Click entries over library functions."""

from __future__ import annotations

import json
import os

import click

from vesselnet import __version__
from vesselnet.core.sizes import DEFAULT_BATCH_SIZE

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


def _pretrained_summaries() -> dict:
    """Name -> architecture, parameters, best validation scores and path of each bundle."""
    from vesselnet.bundle import pretrained_bundles, read_card

    summaries = {}
    for name, path in pretrained_bundles().items():
        card = read_card(path)
        summaries[name] = {
            "arch": card.model.arch,
            "parameters": card.model.parameters or 0,
            "best_validation": card.best_validation,
            "path": str(path),
        }
    return summaries


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
        pretrained = _pretrained_summaries()
        if as_json:
            click.echo(json.dumps({"architectures": ARCHITECTURES, "pretrained": pretrained},
                                  indent=2))
        else:
            click.echo("Architectures (vesselnet models ARCH for details):")
            for name, text in ARCHITECTURES.items():
                click.echo(f"  {name:<9} {text}")
            click.echo("Pretrained models (--model NAME; multi-chained is the default of predict "
                       "and evaluate):")
            for name, facts in pretrained.items():
                best = facts["best_validation"]
                scores = (f"validation F1 {best['f1']:.4f}, AUC {best['auc']:.4f}"
                          if best else "no validation figures")
                click.echo(f"  {name:<14} {facts['arch']}, {facts['parameters']:,} parameters, "
                           f"{scores} ({facts['path']})")
            if not pretrained:
                click.echo("  (none bundled)")
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
              help="TOML file, or preset name (synthetic, drive, drive_baseline, drive_valid, "
                   "chase_db1, multi). Default: all defaults.")
@click.option("--resume", "resume_dir", default=None, type=click.Path(file_okay=False),
              help="Continue the run in this directory from its newest intact checkpoint.")
@click.option("--overwrite", is_flag=True,
              help="Start a new run in RUN_DIR even if it holds an earlier run's results "
                   "(checkpoints, history.json, best/, final/); they are replaced.")
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
def fit_command(run_dir, config_source, resume_dir, overwrite, overrides, steps, batch_size,
                data_dir, precision, strategy, seed):
    """Train a network; checkpoints, logs, history and bundles go into RUN_DIR.

    \b
    Examples:
      vesselnet fit runs/demo --config synthetic
      vesselnet fit runs/drive --config drive --data-dir ../shared/datasets/DRIVE
      vesselnet fit --resume runs/drive
      vesselnet fit runs/drive --config drive --data-dir D --overwrite
      vesselnet fit runs/x --config drive --data-dir D --set optimizer.name=sgd \\
          --set optimizer.learning_rate=0.01 --steps 200
    """
    from vesselnet.config import load_config
    from vesselnet.training import TrainingDivergedError, fit, resume_config

    if (run_dir is None) == (resume_dir is None):
        raise click.UsageError("give RUN_DIR for a new run or --resume RUN_DIR, not both")
    if overwrite and resume_dir is not None:
        raise click.UsageError("--overwrite starts a new run; it cannot go with --resume")
    shortcuts = {"training.steps": steps, "training.batch_size": batch_size,
                 "training.precision": precision, "training.strategy": strategy,
                 "training.seed": seed, "data.data_dir": data_dir}
    settings = {key: value for key, value in shortcuts.items() if value is not None}
    if steps is not None:
        settings["training.epochs"] = 0
    try:
        if resume_dir is not None:
            if config_source is not None:
                raise ValueError("--resume reads RUN_DIR/config.toml; drop --config")
            config = resume_config(resume_dir, overrides, settings)
        else:
            config = load_config(config_source, overrides, settings)
    except ValueError as error:
        raise _fail_cleanly(error) from None
    try:
        result = fit(config, resume_dir or run_dir, resume=resume_dir is not None,
                     overwrite=overwrite)
    except (ValueError, TrainingDivergedError) as error:  # VesselnetDataError is a ValueError
        raise _fail_cleanly(error) from None
    best = f", best validation F1 {result.best_f1:.4f} at step {result.best_step}" \
        if result.best_step >= 0 else ""
    click.echo(f"trained {result.steps} steps in {result.wall_seconds:.0f} s{best}; "
               f"bundles in {result.run_dir}")


class _ThresholdType(click.ParamType):
    """A threshold in [0, 1] or ``otsu``."""

    name = "FLOAT|otsu"

    def convert(self, value, param, context):
        from vesselnet.jobs.predict import parse_threshold

        try:
            return parse_threshold(value)
        except ValueError as error:
            self.fail(str(error), param, context)


class _Progress:
    """A progress bar on stderr, opened at the first report (when the total is known)."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None

    def __call__(self, done: int, total: int, problem: str | None = None) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, show_pos=True,
                                         file=click.get_text_stream("stderr"))
            self.bar.__enter__()
        if problem is not None:  # one line per bad file, above the bar on a terminal
            erase = "\r\x1b[K" if click.get_text_stream("stderr").isatty() else ""
            click.echo(f"{erase}{problem}", err=True)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _inference_options(tile_size, batch_size, tta, scale, fov_diameter, precision):
    from vesselnet.inference import InferenceOptions

    return InferenceOptions(tile_size=tile_size, batch_size=batch_size, tta=tta, scale=scale,
                            fov_diameter=fov_diameter, precision=precision)


class _ScaleType(click.ParamType):
    """``auto``, ``none`` or a positive factor."""

    name = "auto|none|FACTOR"

    def convert(self, value, param, context):
        from vesselnet.inference.scale import parse_scale

        try:
            return parse_scale(value)
        except ValueError as error:
            self.fail(str(error), param, context)


def _scale_options(command):
    """``--scale``, ``--fov-diameter`` and ``--precision``, shared by predict and evaluate."""
    command = click.option(
        "--precision", type=click.Choice(["float32", "mixed_bfloat16", "auto"]),
        default="float32", show_default=True,
        help="Arithmetic of a Keras network. mixed_bfloat16 is 1.2-1.9 times as fast on "
             "CPUs with bfloat16 units (Intel AMX, AVX512-BF16) and moves held-out F1 by up "
             "to 0.002; auto picks it on such a CPU without a GPU.")(command)
    command = click.option(
        "--fov-diameter", type=click.FloatRange(min=1.0), default=None, metavar="PX",
        help="The photographs' FOV diameter in pixels for --scale auto, instead of measuring "
             "it on each.")(command)
    return click.option(
        "--scale", type=_ScaleType(), default="auto", show_default=True,
        help="auto: resample each photograph so that its FOV is as wide as the network's "
             "training photographs' were (the model card's learned scale), and the map back; "
             "none: predict at the photograph's own resolution; or a resampling factor.")(command)


_MODEL_HELP = ("Bundle directory (e.g. runs/NAME/best), .keras or .tflite file, SavedModel "
               "directory, or the name of a bundled model (vesselnet models lists them). "
               "Default: the bundled pretrained model.")


def _tile_report(path, done: int, total: int, seconds_left: float) -> None:
    erase = "\r\x1b[K" if click.get_text_stream("stderr").isatty() else ""
    click.echo(f"{erase}{path}: {done}/{total} tiles, about {seconds_left:.0f} s left", err=True)


def _echo_selection(report) -> None:
    """The files predict skipped (by reason) and replaced, one line each."""
    from vesselnet.jobs.photographs import OWN_OUTPUT

    counts: dict[str, list] = {}
    for file in report.skipped:
        counts.setdefault(file.reason, []).append(file)
    if counts:
        parts = "; ".join(f"{len(files)} {reason}" for reason, files in counts.items())
        click.echo(f"skipped {len(report.skipped)} file(s) of the input folders ({parts})")
    outputs = counts.get(OWN_OUTPUT, [])
    if outputs:
        names = ", ".join(f"{file.path.name} ({file.detail})" for file in outputs[:3])
        more = f" and {len(outputs) - 3} more" if len(outputs) > 3 else ""
        click.echo(f"  not predicted, named as predict names its outputs: {names}{more}")
    if report.replaced:
        click.echo(f"replaced {len(report.replaced)} file(s) of an earlier run in "
                   f"{report.out_dir} (--overwrite)")


@main.command("predict")
@click.argument("inputs", nargs=-1)
@click.option("--model", "model_path", default=None, help=_MODEL_HELP)
@click.option("--out", "out_dir", default="predictions", show_default=True,
              type=click.Path(file_okay=False), help="Output folder.")
@click.option("--format", "map_format", type=click.Choice(["png8", "png16", "npy"]),
              default="png8", show_default=True, help="Probability-map file format.")
@click.option("--threshold", type=_ThresholdType(), default="0.5", show_default=True,
              help="Vessel where probability > threshold; 'otsu' picks one per image.")
@click.option("--fov", default=None, type=click.Path(exists=True),
              help="FOV mask file for all images, or folder of masks matched by stem "
                   "(NAME.*, NAME_mask.*). Default: derived from each photograph.")
@click.option("--tta", is_flag=True, help="Test-time augmentation (average of 4 flips).")
@click.option("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, show_default=True,
              help="Tiles per network call.")
@_scale_options
@click.option("--tile-size", type=int, default=None,
              help="Input tile side. Default: the cheapest tile covering the image. Bounded "
                   "by what each image needs and memory allows (a warning says so).")
@click.option("--overwrite", is_flag=True,
              help="Replace outputs of an earlier run in --out (refused otherwise).")
def predict_command(inputs, model_path, out_dir, map_format, threshold, fov, tta, batch_size,
                    scale, fov_diameter, precision, tile_size, overwrite):
    """Segment the vessels of photographs: probability map, binary mask and overlay of each.

    INPUTS are image files (PNG, JPEG, TIFF, BMP, GIF, PPM), folders or quoted glob
    patterns; without INPUTS, the bundled sample photograph (a synthetic retina). A file that
    cannot be processed is reported and skipped; the exit code is non-zero when any failed.
    Outputs never replace an input; files in input folders named as predict's outputs of a
    photograph there (a_mask.png beside a.png), hidden files and non-images are skipped and
    counted; outputs of an earlier run are replaced only with --overwrite, and only the
    files its predictions.json names.

    \b
    Examples:
      vesselnet predict                       # the bundled model on the bundled sample
      vesselnet predict photo.jpg --model runs/drive/best
      vesselnet predict photos/ 'more/**/*.png' --out seg --format png16 --threshold otsu
    """
    from vesselnet.jobs.predict import SAMPLE_IMAGE, PredictionOptions, TileProgress, predict_files

    if not inputs:
        click.echo(f"no INPUT given: segmenting the bundled sample {SAMPLE_IMAGE}", err=True)
        inputs = (str(SAMPLE_IMAGE),)
    progress = _Progress("predicting")
    try:
        options = PredictionOptions(map_format=map_format, threshold=threshold, fov=fov,
                                    inference=_inference_options(
                                        tile_size, batch_size, tta, scale, fov_diameter,
                                        precision))
        report = predict_files(
            list(inputs), model_path, out_dir, options, overwrite=overwrite,
            progress=lambda outcome, done, total: progress(done, total, outcome.error),
            tile_progress=TileProgress(_tile_report))
    except ValueError as error:  # VesselnetDataError is a ValueError
        raise _fail_cleanly(error) from None
    finally:
        progress.close()
    _echo_selection(report)
    for outcome in report.outcomes:
        for warning in outcome.warnings:
            click.echo(f"warning: {warning}")
    for outcome in report.succeeded:
        if outcome.scale is not None and outcome.scale.measured_by == "no_edge":
            click.echo(f"{outcome.input}: the FOV has no dark surround to measure; its diameter "
                       f"was taken as the image diagonal ({outcome.scale.fov_diameter:.0f} px). "
                       "Pass --fov-diameter PX or --scale FACTOR if that is wrong.", err=True)
    click.echo(f"predicted {len(report.succeeded)} of {len(report.outcomes)} image(s) in "
               f"{report.seconds:.1f} s; outputs in {report.out_dir}")
    if report.failed:
        raise click.ClickException(f"{len(report.failed)} input(s) failed (listed above)")


@main.command("evaluate")
@click.option("--model", "model_path", default=None, help=_MODEL_HELP)
@click.option("--dataset", required=True,
              help="Data set layout: drive, chase_db1, stare, hrf or generic.")
@click.option("--data-dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="The data set folder.")
@click.option("--split", default=None,
              help="Split to score. Default: test for drive and chase_db1, else all.")
@click.option("--images", default=None, metavar="NAME,...",
              help="Score only these images of the split: names, or numbers for DRIVE "
                   "(e.g. 37,38,39,40: the bundled model's held-out images).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Report folder.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
              help="Vessel where probability > threshold.")
@click.option("--tta", is_flag=True, help="Test-time augmentation (average of 4 flips).")
@click.option("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, show_default=True,
              help="Tiles per network call.")
@_scale_options
@click.option("--tile-size", type=int, default=None,
              help="Input tile side. Default: the cheapest tile covering the image.")
@click.option("--auc-bins", type=int, default=None,
              help="Pool AUCs in this many histogram bins (e.g. 65536) instead of exactly; "
                   "bounds memory on large data sets such as HRF.")
@click.option("--figures/--no-figures", default=True, show_default=True,
              help="Per-image panels and ROC / precision-recall plots.")
@click.option("--save-maps/--no-save-maps", default=True, show_default=True,
              help="Write the probability maps scored (probabilities/NAME.npy).")
def evaluate_command(model_path, dataset, data_dir, split, images, out_dir, threshold, tta,
                     batch_size, scale, fov_diameter, precision, tile_size, auc_bins, figures,
                     save_maps):
    """Score a model on a labelled split inside the FOV; report in --out.

    Writes metrics.json (pooled, mean and per-image scores; second observer; chained
    stage 1), per_image.csv, roc_curve.png, pr_curve.png and images/NAME.png.

    \b
    Examples:
      vesselnet evaluate --model runs/drive/best --dataset drive --data-dir DRIVE --out eval
      vesselnet evaluate --model m.keras --dataset generic --data-dir em --out eval-em
      vesselnet evaluate --dataset drive --data-dir DRIVE --split training \
          --images 37,38,39,40 --out held-out
    """
    from vesselnet.jobs.evaluate import EvaluationOptions, evaluate_dataset

    progress = _Progress("evaluating")
    try:
        options = EvaluationOptions(threshold=threshold, save_maps=save_maps, figures=figures,
                                    auc_bins=auc_bins,
                                    inference=_inference_options(
                                        tile_size, batch_size, tta, scale, fov_diameter,
                                        precision),
                                    images=tuple(name.strip() for name in (images or "").split(",")
                                                 if name.strip()))
        report = evaluate_dataset(model_path, dataset, data_dir, split, out_dir, options,
                                  progress=lambda name, done, total: progress(done, total))
    except ValueError as error:  # VesselnetDataError is a ValueError
        raise _fail_cleanly(error) from None
    finally:
        progress.close()
    click.echo(report.summary())
    click.echo(f"report in {report.out_dir} ({report.seconds:.1f} s)")


@main.command("export")
@click.option("--model", "model_path", default=None,
              help="Bundle directory (runs/NAME/best), .keras file or the name of a bundled "
                   "model. Default: the bundled pretrained model.")
@click.option("--format", "export_format", type=click.Choice(["saved_model", "tflite", "all"]),
              default="all", show_default=True)
@click.option("--out", "out_dir", default="export", show_default=True,
              type=click.Path(file_okay=False), help="Output folder (TF Serving's model base).")
@click.option("--name", default="vesselnet", show_default=True,
              help="Model name: SavedModel folder and .tflite file prefix.")
@click.option("--version", "model_version", type=int, default=None,
              help="SavedModel version. Default: one above the highest present.")
@click.option("--tile-size", type=int, default=None,
              help="Input tile side. Default: the training tile (valid padding), else near 572.")
@click.option("--quantize", default="float32,float16,dynamic,int8", show_default=True,
              help="TFLite variants, comma-separated.")
@click.option("--calibration-data", type=click.Path(exists=True, file_okay=False), default=None,
              help="Data-set folder whose training images calibrate int8 (less the model's "
                   "validation images, for its own data set). Default: synthetic.")
@click.option("--calibration-dataset", default="drive", show_default=True,
              help="Reader for --calibration-data (drive, chase_db1, stare, hrf, generic).")
@click.option("--calibration-tiles", type=int, default=32, show_default=True,
              help="Representative tiles for int8.")
def export_command(model_path, export_format, out_dir, name, model_version, tile_size, quantize,
                   calibration_data, calibration_dataset, calibration_tiles):
    """Export a model as SavedModel (TF Serving) and/or TFLite files into --out.

    \b
    Examples:
      vesselnet export                        # the bundled model, every format -> export/
      vesselnet export --model runs/drive/best --out export
      vesselnet export --model runs/drive/best --format tflite --quantize float16,int8 \\
          --calibration-data ../shared/datasets/DRIVE
    """
    from vesselnet.export.tflite import check_quantizations
    from vesselnet.jobs.export import ExportOptions, export_model

    formats = ("saved_model", "tflite") if export_format == "all" else (export_format,)
    try:
        options = ExportOptions(
            formats=formats, name=name, version=model_version, tile_size=tile_size,
            quantizations=check_quantizations(quantize), calibration_data=calibration_data,
            calibration_dataset=calibration_dataset, calibration_tiles=calibration_tiles)
        result = export_model(model_path, out_dir, options)
    except ValueError as error:
        raise _fail_cleanly(error) from None
    for path in result.removed:
        click.echo(f"removed {path}, left by an export that was killed", err=True)
    if result.saved_model is not None:
        click.echo(f"SavedModel  {result.saved_model}  (signatures serving_default, tile; "
                   f"TF Serving config {result.saved_model.parent.parent / 'models.config'})")
    for quantization, path in result.tflite.items():
        click.echo(f"TFLite      {path}  ({quantization}, {path.stat().st_size / 1e6:.2f} MB)")


@main.command("ensemble")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.argument("members", nargs=-1, required=True)
@click.option("--rule", type=click.Choice(["probability", "log_probability"]),
              default="probability", show_default=True,
              help="Average the members' probabilities, or their log-probabilities.")
@click.option("--data-dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="The members' data set folder: score the ensemble and each member on "
                   "their held-out images and record the scores in the card.")
@click.option("--notes", "notes_file", default=None, type=click.File(encoding="utf-8"),
              help="A Markdown file for the Notes section of the model card.")
def ensemble_command(out_dir, members, rule, data_dir, notes_file):
    """Average trained bundles (MEMBERS) into one bundle OUT_DIR.

    The members must share their preprocessing and held-out images, and none may have been
    trained on those images. The result is a bundle like any other: predict, evaluate and
    export take it with --model.

    \b
    Example:
      vesselnet ensemble runs/ensemble runs/drive/best runs/drive-baseline/best \\
          --data-dir ../shared/datasets/DRIVE
    """
    from vesselnet.jobs.ensemble import make_ensemble

    try:
        result = make_ensemble(out_dir, members, rule, data_dir,
                               notes_file.read() if notes_file else None)
    except ValueError as error:
        raise _fail_cleanly(error) from None
    rows = [(f"member {index} ({path})", scores)
            for index, (path, scores) in enumerate(zip(members, result.member_validation), 1)]
    if result.validation is not None:
        rows.append(("ensemble", result.validation))
        for name, scores in rows:
            click.echo(f"{name}: F1 {scores['f1']:.4f}  AUC {scores['auc']:.4f}  "
                       f"accuracy {scores['accuracy']:.4f}")
    click.echo(f"wrote {result.path} ({result.card.model.parameters:,} parameters, "
               f"{result.seconds:.1f} s)")
