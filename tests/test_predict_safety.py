"""``vesselnet predict`` when things go wrong: outputs never replace inputs, its own outputs
are not read back, unwritable folders, huge tiles, out of memory, meaningless results,
re-runs and kills, hidden files (issue 16, cases 1, 5-8 and 10)."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import save_tiny_unet_bundle

import vesselnet.jobs.out_folder as out_folder_module
from vesselnet.cli import main
from vesselnet.core.sizes import MIN_IMAGE_SIDE
from vesselnet.data import synthetic_retina
from vesselnet.export import MIN_IMAGE_SIDE as EXPORT_MIN_IMAGE_SIDE
from vesselnet.inference import InferenceOptions
from vesselnet.jobs.out_folder import ForeignFilesError, OutputsExistError
from vesselnet.jobs.photographs import select_inputs
from vesselnet.jobs.plausibility import PLAUSIBLE_VESSEL_FRACTION, result_warnings
from vesselnet.jobs.predict import PredictionOptions, TileProgress, predict_files
from vesselnet.loading.loader import LoadedModel

SIZE = (96, 96)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return save_tiny_unet_bundle(tmp_path_factory.mktemp("model"))


def photograph(path, seed=0, size=SIZE):
    """A synthetic retina (cropped from a 32-pixel one when smaller) saved as ``path``."""
    height, width = size
    image = synthetic_retina(seed, size=(max(height, 32), max(width, 32))).image
    Image.fromarray(image[:height, :width]).save(path)
    return path


def run(*arguments):
    return CliRunner().invoke(main, ["predict", *map(str, arguments)])


# ---- case 1: outputs never replace inputs; predict's own outputs are not read back ---------

def test_a_photograph_named_like_an_output_is_never_replaced(bundle, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    photograph(photos / "a.png", 0)
    users = photograph(photos / "a_mask.png", 1).read_bytes()  # the user's own photograph
    result = run(photos, "--model", bundle, "--out", photos)  # --out is the input folder
    assert result.exit_code == 1, result.output
    assert f"{photos / 'a_mask.png'} exists" in result.stderr and "--overwrite" in result.stderr
    assert "Traceback" not in result.output
    assert (photos / "a_mask.png").read_bytes() == users
    assert sorted(path.name for path in photos.iterdir()) == ["a.png", "a_mask.png"]

    # named one by one, both are photographs: a.png would write onto a_mask.png, so a.png
    # alone is refused, and a_mask.png is predicted (into a_mask_*.png)
    result = run(photos / "a.png", photos / "a_mask.png", "--model", bundle, "--out", photos)
    assert result.exit_code == 1, result.output
    assert (f"{photos / 'a.png'}: its output {photos / 'a_mask.png'} would replace the input "
            f"{photos / 'a_mask.png'}; choose another --out") in result.stderr
    assert (photos / "a_mask.png").read_bytes() == users
    assert (photos / "a_mask_mask.png").is_file() and not (photos / "a_overlay.png").exists()
    summary = json.loads((photos / "predictions.json").read_text())
    assert [entry["error"] is None for entry in summary["results"]] == [False, True]


def test_an_output_that_is_a_link_to_an_input_is_refused(bundle, tmp_path):
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    out.mkdir()
    photograph(photos / "x.png")
    original = (photos / "x.png").read_bytes()
    os.link(photos / "x.png", out / "x_overlay.png")  # the same file under an output's name
    report = predict_files([photos / "x.png"], bundle, out)
    (outcome,) = report.outcomes
    assert outcome.error == (f"{photos / 'x.png'}: its output {out / 'x_overlay.png'} would "
                             f"replace the input {photos / 'x.png'}; choose another --out")
    assert (photos / "x.png").read_bytes() == original
    assert not (out / "x_mask.png").exists()


def test_an_output_onto_a_fov_mask_is_refused(bundle, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    photograph(photos / "a.png")
    mask = np.zeros(SIZE, np.uint8)
    mask[8:88, 8:88] = 255
    Image.fromarray(mask).save(photos / "a_mask.png")  # DRIVE names its FOV masks so
    masks = (photos / "a_mask.png").read_bytes()
    report = predict_files([photos / "a.png"], bundle, photos, PredictionOptions(fov=photos))
    assert report.outcomes[0].error == (
        f"{photos / 'a.png'}: its output {photos / 'a_mask.png'} would replace the input "
        f"{photos / 'a_mask.png'}; choose another --out")
    assert (photos / "a_mask.png").read_bytes() == masks


def test_a_second_run_into_the_input_folder_skips_the_first_runs_outputs(bundle, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    photograph(photos / "photo.png")
    assert run(photos, "--model", bundle, "--out", photos).exit_code == 0
    first = {path.name: path.read_bytes() for path in photos.iterdir()}
    assert set(first) == {"photo.png", "photo_probability.png", "photo_mask.png",
                          "photo_overlay.png", "predictions.json"}

    result = run(photos, "--model", bundle, "--out", photos)  # again, without --overwrite
    assert result.exit_code == 1
    assert (f"Error: {photos / 'photo_probability.png'} exists and 3 more output(s) (an "
            "earlier prediction?): pass --overwrite") in result.stderr
    assert {path.name: path.read_bytes() for path in photos.iterdir()} == first

    result = run(photos, "--model", bundle, "--out", photos, "--overwrite")
    assert result.exit_code == 0, result.output
    assert "predicted 1 of 1 image(s)" in result.stdout
    assert ("skipped 4 file(s) of the input folders (1 not an image file; 3 output of predict)"
            in result.stdout)  # predictions.json is no image
    assert f"replaced 4 file(s) of an earlier run in {photos} (--overwrite)" in result.stdout
    assert sorted(path.name for path in photos.iterdir()) == sorted(first)  # no photo_mask_mask
    summary = json.loads((photos / "predictions.json").read_text())
    assert summary["complete"] is True and summary["images"] == 1
    assert {(entry["path"], entry["reason"]) for entry in summary["skipped"]} == {
        (str(photos / name), "output of predict")
        for name in ("photo_mask.png", "photo_overlay.png", "photo_probability.png")} | {
        (str(photos / "predictions.json"), "not an image file")}
    assert len(summary["replaced"]) == 4


# ---- case 10: hidden files counted -----------------------------------------------------

def test_hidden_and_other_files_are_skipped_and_counted(bundle, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    photograph(photos / "a.png")
    photograph(photos / ".b.png")  # e.g. a macOS resource fork "._b.png"
    (photos / ".DS_Store").write_bytes(b"\0")
    (photos / "notes.txt").write_text("x")
    selection = select_inputs([photos])
    assert [item.path.name for item in selection.items] == ["a.png"]
    assert selection.skipped_counts() == {"hidden file": 2, "not an image file": 1}
    result = run(photos, "--model", bundle, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert ("skipped 3 file(s) of the input folders (2 hidden file; 1 not an image file)"
            in result.stdout)
    summary = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert sorted(entry["reason"] for entry in summary["skipped"]) == [
        "hidden file", "hidden file", "not an image file"]


# ---- case 5: an unwritable --out ----------------------------------------------------------

@pytest.fixture
def network_calls(monkeypatch):
    """Counts the photographs that reach the network."""
    calls = []
    original = LoadedModel.predict_photograph

    def counted(self, image, fov, *args, **kwargs):
        calls.append(image.shape)
        return original(self, image, fov, *args, **kwargs)

    monkeypatch.setattr(LoadedModel, "predict_photograph", counted)
    return calls


def test_an_out_folder_that_cannot_be_created_fails_before_any_prediction(
        bundle, tmp_path, network_calls):
    photograph(tmp_path / "a.png")
    (tmp_path / "file").write_text("a file, not a folder")
    result = run(tmp_path / "a.png", "--model", bundle, "--out", tmp_path / "file" / "out")
    assert result.exit_code == 1 and network_calls == []
    assert result.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 'file' / 'out'}: cannot create the output folder (Not a "
        "directory); choose another --out"]


def test_an_out_folder_without_write_permission_fails_before_any_prediction(
        bundle, tmp_path, network_calls, monkeypatch):
    photograph(tmp_path / "a.png")
    (tmp_path / "out").mkdir()

    def denied(*args, **kwargs):  # what a read-only folder gives (the tests run as root)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(out_folder_module.tempfile, "mkstemp", denied)
    result = run(tmp_path / "a.png", "--model", bundle, "--out", tmp_path / "out")
    assert result.exit_code == 1 and network_calls == []
    assert result.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 'out'}: cannot write into the output folder (Permission denied); "
        "choose another --out"]


# ---- case 6: huge tiles, out of memory ----------------------------------------------------

def test_a_huge_tile_size_is_bounded_by_the_image(bundle, tmp_path):
    path = photograph(tmp_path / "a.png")
    options = PredictionOptions(map_format="npy",
                                inference=InferenceOptions(tile_size=100000, scale="none"))
    (outcome,) = predict_files([path], bundle, tmp_path / "huge", options).outcomes
    assert outcome.error is None and outcome.tile_size == 136  # output 96: the whole image
    assert outcome.warnings[0] == (
        f"{path}: --tile-size 100000 is more than the 96x96 image (at the network's scale) "
        "needs; used 136-pixel tiles, the smallest that cover it")
    exact = PredictionOptions(map_format="npy",
                              inference=InferenceOptions(tile_size=136, scale="none"))
    (reference,) = predict_files([path], bundle, tmp_path / "exact", exact).outcomes
    assert reference.warnings == outcome.warnings[1:]  # no tile note when nothing is bounded
    np.testing.assert_array_equal(np.load(outcome.outputs["probability"]),
                                  np.load(reference.outputs["probability"]))
    summary = json.loads((tmp_path / "huge" / "predictions.json").read_text())
    assert summary["results"][0]["tile_size"] == 136
    assert summary["results"][0]["warnings"] == list(outcome.warnings)


def test_running_out_of_memory_fails_one_image_and_the_job_goes_on(bundle, tmp_path,
                                                                   monkeypatch):
    first, second = photograph(tmp_path / "a.png", 0), photograph(tmp_path / "b.png", 1)
    original = LoadedModel.predict_photograph

    def greedy(self, image, fov, *args, **kwargs):
        if (image == np.asarray(Image.open(first))).all():
            raise MemoryError("Unable to allocate 28.5 GiB")
        return original(self, image, fov, *args, **kwargs)

    monkeypatch.setattr(LoadedModel, "predict_photograph", greedy)
    result = run(first, second, "--model", bundle, "--out", tmp_path / "out")
    assert result.exit_code == 1
    message = (f"{first}: out of memory (MemoryError); try a smaller --tile-size or "
               "--batch-size, or --scale auto")
    assert message in result.stderr and "Traceback" not in result.output
    assert "predicted 1 of 2 image(s)" in result.stdout
    summary = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert [entry["error"] for entry in summary["results"]] == [message, None]
    assert (tmp_path / "out" / "b_mask.png").is_file()


# ---- case 7: warnings, one size rule, progress -------------------------------------------

@pytest.mark.parametrize("vessels, warned", [
    (0, True), (2, True), (3, False), (12, False), (30, False), (31, True), (87, True)])
def test_vessel_shares_outside_the_plausible_band_are_warned(tmp_path, vessels, warned):
    fov = np.ones((10, 10), bool)  # 100 FOV pixels: `vessels` of them vessel
    mask = np.zeros(100, bool)
    mask[:vessels] = True
    warnings = result_warnings(tmp_path / "x.png", fov, mask.reshape(10, 10))
    assert bool(warnings) == warned
    if warned:
        assert warnings[0].startswith(f"{tmp_path / 'x.png'}: {vessels:.1f} % of the field")
    assert PLAUSIBLE_VESSEL_FRACTION == (0.03, 0.30)


def test_an_empty_fov_and_a_tiny_photograph_are_not_plain_successes(bundle, tmp_path):
    assert MIN_IMAGE_SIDE == EXPORT_MIN_IMAGE_SIDE == 32  # the CLI's rule is the export's
    black = tmp_path / "black.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(black)
    tiny = photograph(tmp_path / "tiny.png", size=(20, 20))
    narrow = photograph(tmp_path / "narrow.png", size=(MIN_IMAGE_SIDE - 1, 80))
    smallest = photograph(tmp_path / "smallest.png", size=(MIN_IMAGE_SIDE, MIN_IMAGE_SIDE))
    result = run(black, tiny, narrow, smallest, "--model", bundle, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert (f"{tiny}: the photograph is 20x20 pixels (width x height), too small to hold a "
            f"fundus: vesselnet needs at least 32 pixels on each side") in result.stderr
    assert f"{narrow}: the photograph is 80x31 pixels" in result.stderr
    assert (f"warning: {black}: the field of view is empty (no fundus found"
            in result.stdout)
    summary = {entry["name"]: entry for entry in json.loads(
        (tmp_path / "out" / "predictions.json").read_text())["results"]}
    assert summary["black"]["error"] is None and summary["black"]["vessel_fraction"] is None
    assert summary["black"]["warnings"][0].startswith(f"{black}: the field of view is empty")
    assert summary["tiny"]["error"].startswith(f"{tiny}: the photograph is 20x20")
    assert summary["smallest"]["error"] is None  # 32 px: accepted, as by the export
    assert not (tmp_path / "out" / "tiny_mask.png").exists()


def test_long_images_report_their_tiles():
    reports, clock = [], iter([0.0, 10.0, 11.0, 20.0, 40.0])
    progress = TileProgress(lambda *report: reports.append(report), many=16, every=5.0,
                            clock=lambda: next(clock))
    progress.start("big.png")  # t = 0
    progress(5, 20)            # t = 10: 2 s a tile, 15 tiles left
    progress(6, 20)            # t = 11: too soon after the last report
    progress(10, 20)           # t = 20
    progress(20, 20)           # t = 40: the last one is always reported
    progress(3, 8)             # an image of few tiles: never reported (and reads no clock)
    assert reports == [("big.png", 5, 20, 30.0), ("big.png", 10, 20, 20.0),
                       ("big.png", 20, 20, 0.0)]


def test_the_command_prints_tile_progress_on_stderr_for_many_tiles(bundle, tmp_path):
    path = photograph(tmp_path / "big.png", size=(200, 200))
    # 60-pixel input tiles give 20-pixel outputs: 10 x 10 tiles, 50 calls of 2
    result = run(path, "--model", bundle, "--out", tmp_path / "out", "--tile-size", "60",
                 "--scale", "none")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "tiles, about" in line]
    assert lines and lines[-1] == f"{path}: 100/100 tiles, about 0 s left"
    assert "tiles, about" not in result.stdout
    small = run(photograph(tmp_path / "small.png"), "--model", bundle, "--out",
                tmp_path / "out2")
    assert "tiles, about" not in small.output  # one tile: no progress


# ---- case 8: re-runs and kills ------------------------------------------------------------

def test_predictions_json_lists_what_was_written_when_the_job_is_killed(bundle, tmp_path,
                                                                         monkeypatch):
    paths = [photograph(tmp_path / f"{name}.png", seed) for seed, name in enumerate("abc")]
    original = LoadedModel.predict_photograph
    calls = []

    def killed_at_the_second(self, image, fov, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("kill")
        return original(self, image, fov, *args, **kwargs)

    monkeypatch.setattr(LoadedModel, "predict_photograph", killed_at_the_second)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        predict_files(paths, bundle, out)
    summary = json.loads((out / "predictions.json").read_text())
    assert summary["complete"] is False
    assert [entry["name"] for entry in summary["results"]] == ["a"]
    written = sorted(path.name for path in out.iterdir())
    assert written == ["a_mask.png", "a_overlay.png", "a_probability.png", "predictions.json"]
    assert sorted(summary["results"][0]["outputs"].values()) == sorted(
        str(out / name) for name in written[:3])
    monkeypatch.setattr(LoadedModel, "predict_photograph", original)
    with pytest.raises(OutputsExistError, match="a_probability.png exists"):
        predict_files(paths, bundle, out)
    report = predict_files(paths, bundle, out, overwrite=True)
    assert [outcome.ok for outcome in report.outcomes] == [True, True, True]
    assert sorted(path.name for path in report.replaced) == [
        "a_mask.png", "a_overlay.png", "a_probability.png", "predictions.json"]


def test_overwrite_replaces_only_what_an_earlier_prediction_wrote(bundle, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    path = photograph(tmp_path / "eye.png")
    users = photograph(out / "eye_mask.png", 3).read_bytes()  # the user's own file, no report
    result = run(path, "--model", bundle, "--out", out, "--overwrite")
    assert result.exit_code == 1, result.output
    assert (f"Error: {out / 'eye_mask.png'} would be replaced, but no earlier prediction in "
            f"{out} wrote them (there is no predictions.json in it)") in result.stderr
    assert (out / "eye_mask.png").read_bytes() == users
    assert sorted(item.name for item in out.iterdir()) == ["eye_mask.png"]

    (out / "eye_mask.png").unlink()
    assert run(path, "--model", bundle, "--out", out).exit_code == 0
    other = photograph(tmp_path / "other.png", 1)
    users = photograph(out / "other_overlay.png", 4).read_bytes()  # beside a real report
    result = run(path, other, "--model", bundle, "--out", out, "--overwrite")
    assert result.exit_code == 1
    assert (f"{out / 'other_overlay.png'} would be replaced, but no earlier prediction in "
            f"{out} wrote them (its predictions.json does not name them)") in result.stderr
    assert (out / "other_overlay.png").read_bytes() == users
    summary = json.loads((out / "predictions.json").read_text())
    assert summary["planned"] == ["eye_probability.png", "eye_mask.png", "eye_overlay.png"]

    (out / "predictions.json").write_text("not json")  # a damaged report claims nothing
    with pytest.raises(ForeignFilesError, match="its predictions.json cannot be read"):
        predict_files([path], bundle, out, overwrite=True)
    assert (out / "predictions.json").read_text() == "not json"


def test_a_killed_runs_planned_outputs_count_as_its_own(bundle, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "predictions.json").write_text(json.dumps(
        {"complete": False, "results": [], "planned": ["a_probability.png", "a_mask.png"]}))
    (out / "a_probability.png").write_bytes(b"half written")  # killed while writing it
    report = predict_files([photograph(tmp_path / "a.png")], bundle, out, overwrite=True)
    assert report.outcomes[0].ok
    assert sorted(path.name for path in report.replaced) == ["a_probability.png",
                                                             "predictions.json"]
