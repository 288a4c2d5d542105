"""Data set readers: every layout round-trips synthetic files, DRIVE reads, bad input is named."""

import gzip
import shutil

import cv2
import numpy as np
import pytest
from conftest import DRIVE_DIR, needs_drive
from PIL import Image

from vesselnet.data import (
    READERS,
    VesselnetDataError,
    read_chase_db1,
    read_dataset,
    read_drive,
    read_generic,
    read_hrf,
    read_mask,
    read_photograph,
    read_stare,
    write_synthetic_dataset,
)
from vesselnet.data.fov import mask_agreement

SIZE = (72, 80)


def assert_same_records(read, written, *, lossy_image=False, fov_exact=True):
    assert [record.name for record in read] == [record.name for record in written]
    for got, expected in zip(read, written):
        assert got.path == expected.path
        if lossy_image:  # JPEG, quality 95
            difference = np.abs(got.image.astype(int) - expected.image.astype(int))
            assert difference.mean() < 4.0, (got.name, difference.mean())
        else:
            assert np.array_equal(got.image, expected.image), got.name
        assert np.array_equal(got.vessels, expected.vessels), got.name
        if expected.second_observer is None:
            assert got.second_observer is None
        else:
            assert np.array_equal(got.second_observer, expected.second_observer), got.name
        if fov_exact:
            assert np.array_equal(got.fov, expected.fov) and not got.fov_derived
        else:
            dice, _ = mask_agreement(got.fov, expected.fov)
            assert got.fov_derived and dice > 0.97, (got.name, dice)


# Layouts written by write_synthetic_dataset and read back ----------------------------------


@pytest.mark.parametrize("split", ["training", "test"])
def test_drive_round_trip(tmp_path, split):
    written = write_synthetic_dataset(tmp_path, "drive", 3, seed=1, size=SIZE, split=split)
    read = read_drive(tmp_path, split)
    assert_same_records(read, written)
    assert [record.name for record in read] == (
        ["21_training", "22_training", "23_training"]
        if split == "training"
        else ["01_test", "02_test", "03_test"]
    )
    assert (read[0].second_observer is not None) == (split == "test")


def test_drive_accepts_the_split_folder_itself(tmp_path):
    written = write_synthetic_dataset(tmp_path, "drive", 2, seed=1, size=SIZE, split="test")
    assert_same_records(read_drive(tmp_path / "test"), written)


def test_chase_db1_round_trip_and_split(tmp_path):
    written = write_synthetic_dataset(tmp_path, "chase_db1", 28, seed=2, size=(48, 48))
    everything = read_chase_db1(tmp_path, "all")
    assert_same_records(everything, written, lossy_image=True, fov_exact=False)
    training, test = read_chase_db1(tmp_path, "training"), read_chase_db1(tmp_path, "test")
    assert [r.name for r in training] == [r.name for r in everything[:20]]
    assert [r.name for r in test] == [f"Image_{k}{eye}" for k in (11, 12, 13, 14) for eye in "LR"]


@pytest.mark.parametrize("compress", [False, True])
def test_stare_flat_round_trip(tmp_path, compress):
    written = write_synthetic_dataset(tmp_path, "stare", 3, seed=3, size=SIZE, compress=compress)
    assert_same_records(read_stare(tmp_path), written, fov_exact=False)


def test_stare_subfolder_layout_and_missing_second_observer(tmp_path):
    written = write_synthetic_dataset(tmp_path, "stare", 2, seed=3, size=SIZE)
    for folder, pattern in (("stare-images", "im000?.ppm"), ("labels-ah", "*.ah.ppm")):
        (tmp_path / folder).mkdir()
        for path in tmp_path.glob(pattern):
            path.rename(tmp_path / folder / path.name)
    for path in tmp_path.glob("*.vk.ppm"):
        path.unlink()
    read = read_stare(tmp_path)
    assert [record.name for record in read] == ["im0001", "im0002"]
    for got, expected in zip(read, written):
        assert np.array_equal(got.image, expected.image)
        assert np.array_equal(got.vessels, expected.vessels)
        assert got.second_observer is None and got.fov_derived


def test_hrf_round_trip(tmp_path):
    written = write_synthetic_dataset(tmp_path, "hrf", 4, seed=4, size=SIZE)
    read = read_hrf(tmp_path)
    assert [record.name for record in read] == ["01_dr", "01_g", "01_h", "02_dr"]
    assert_same_records(read, written, lossy_image=True)


def test_generic_round_trip_and_split_subfolder(tmp_path):
    written = write_synthetic_dataset(tmp_path / "val", "generic", 3, seed=5, size=SIZE)
    assert_same_records(read_generic(tmp_path, "val"), written)
    assert_same_records(read_generic(tmp_path / "val"), written)


def test_generic_without_masks_or_fov_is_unlabelled_with_whole_fov(tmp_path):
    written = write_synthetic_dataset(tmp_path, "generic", 2, seed=5, size=SIZE)
    shutil.rmtree(tmp_path / "masks")
    shutil.rmtree(tmp_path / "fov")
    read = read_generic(tmp_path)
    assert all(record.vessels is None and record.fov.all() for record in read)
    derived = read_generic(tmp_path, missing_fov="derive")
    for got, expected in zip(derived, written):
        assert got.fov_derived and mask_agreement(got.fov, expected.fov)[0] > 0.97


def test_generic_grayscale_image_is_replicated(tmp_path):
    (tmp_path / "images").mkdir()
    grey = np.arange(30 * 40, dtype=np.uint8).reshape(30, 40)
    cv2.imwrite(str(tmp_path / "images" / "cell.tif"), grey)
    (record,) = read_generic(tmp_path)
    assert record.image.shape == (30, 40, 3)
    assert all(np.array_equal(record.image[..., c], grey) for c in range(3))


def test_opaque_rgba_photograph_drops_alpha(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(np.dstack([rgb, np.full((20, 30), 255, np.uint8)])).save(tmp_path / "a.png")
    assert np.array_equal(read_photograph(tmp_path / "a.png"), rgb)


def test_jpeg_mask_with_compression_noise_is_thresholded(tmp_path):
    mask = np.zeros((40, 50), bool)
    mask[10:30, 5:8] = mask[20, :] = True
    cv2.imwrite(str(tmp_path / "m.jpg"), mask.astype(np.uint8) * 255)
    assert len(np.unique(cv2.imread(str(tmp_path / "m.jpg"), 0))) > 2
    assert np.array_equal(read_mask(tmp_path / "m.jpg"), mask)


@pytest.mark.parametrize(
    "values, suffix, expected",
    [
        ([[0, 255], [255, 0]], ".png", [[0, 1], [1, 0]]),
        ([[0, 1], [1, 1]], ".png", [[0, 1], [1, 1]]),
        ([[0, 0], [0, 0]], ".png", [[0, 0], [0, 0]]),
        ([[255, 255], [255, 255]], ".bmp", [[1, 1], [1, 1]]),
        ([[0, 65535], [0, 0]], ".png", [[0, 1], [0, 0]]),
        ([[0, 200], [100, 255]], ".gif", [[0, 1], [0, 1]]),  # GIF: threshold at 128
    ],
)
def test_mask_threshold_rule(tmp_path, values, suffix, expected):
    array = np.array(values, np.uint16 if max(map(max, values)) > 255 else np.uint8)
    array = np.kron(array, np.ones((8, 8), array.dtype))  # 16x16, so a 2x2 block is 25 %
    if suffix == ".gif":  # mid-grey 100 is 25 % of the pixels: use a palette GIF with 1 such px
        array[array == 100] = 0
        array[0, 0] = 100
        Image.fromarray(array).convert("P").save(tmp_path / f"m{suffix}")
    else:
        cv2.imwrite(str(tmp_path / f"m{suffix}"), array)
    got = read_mask(tmp_path / f"m{suffix}")
    want = np.kron(np.array(expected, bool), np.ones((8, 8), bool))
    assert np.array_equal(got, want)


def test_read_dataset_dispatches_by_name(tmp_path):
    write_synthetic_dataset(tmp_path / "hrf", "hrf", 1, seed=0, size=SIZE)
    write_synthetic_dataset(tmp_path / "drive", "drive", 1, seed=0, size=SIZE)
    assert set(READERS) == {"drive", "chase_db1", "stare", "hrf", "generic"}
    assert read_dataset("HRF", tmp_path / "hrf", "all")[0].name == "01_dr"
    assert read_dataset("drive", tmp_path / "drive")[0].name == "21_training"
    write_synthetic_dataset(tmp_path / "chase", "chase_db1", 2, seed=0, size=SIZE)
    assert len(read_dataset("chase-db1", tmp_path / "chase", "all")) == 2


# The real DRIVE training split --------------------------------------------------------------


@needs_drive
def test_real_drive_training_split():
    records = read_dataset("drive", DRIVE_DIR, "training")
    assert [record.name for record in records] == [f"{n}_training" for n in range(21, 41)]
    for record in records:
        assert record.shape == (584, 565) and record.image.dtype == np.uint8
        assert not record.fov_derived and record.second_observer is None
        assert record.path.name == f"{record.name}.tif"
        assert 0.085 <= record.vessels[record.fov].mean() <= 0.17, record.name
        assert 0.65 <= record.fov.mean() <= 0.72, record.name
    outside = {record.name: int(np.sum(record.vessels & ~record.fov)) for record in records}
    assert outside["26_training"] == 77 and sum(outside.values()) == 200  # kept, not clipped


# Bad input: each raises VesselnetDataError naming the file or folder ------------------------


def _drive(root):
    write_synthetic_dataset(root, "drive", 2, seed=0, size=SIZE)
    return root / "training"


def _generic(root):
    write_synthetic_dataset(root, "generic", 2, seed=0, size=SIZE)
    return root


def _save(path, array):
    path.unlink(missing_ok=True)
    if path.suffix == ".gif":
        Image.fromarray(array).save(path)
    else:
        assert cv2.imwrite(str(path), array[..., ::-1] if array.ndim == 3 else array)


def _case_missing_annotation(root):
    (_drive(root) / "1st_manual/22_manual1.gif").unlink()
    return lambda: read_drive(root), "22_training.tif", "no matching file 22_manual1"


def _case_unreadable_image(root):
    (_drive(root) / "images/21_training.tif").write_bytes(b"not a tiff" * 10)
    return lambda: read_drive(root), "21_training.tif", "not a readable image"


def _case_empty_file(root):
    (_drive(root) / "mask/21_training_mask.gif").write_bytes(b"")
    return lambda: read_drive(root), "21_training_mask.gif", "not a readable image"


def _case_size_mismatch(root):
    _save(_drive(root) / "mask/22_training_mask.gif", np.zeros((10, 10), np.uint8))
    return lambda: read_drive(root), "22_training_mask.gif", "but its photograph"


def _case_16_bit(root):
    _save(_generic(root) / "images/synthetic_001.png", np.zeros((*SIZE, 3), np.uint16))
    return lambda: read_generic(root), "synthetic_001.png", "16-bit"


def _case_grayscale_fundus(root):
    Image.new("L", SIZE[::-1]).save(_drive(root) / "images/21_training.tif")
    return lambda: read_drive(root), "21_training.tif", "grayscale"


def _case_transparent(root):
    Image.new("RGBA", SIZE[::-1], (9, 9, 9, 100)).save(_generic(root) / "images/synthetic_000.png")
    return lambda: read_generic(root), "synthetic_000.png", "transparent"


def _case_not_binary(root):
    values = np.arange(SIZE[0] * SIZE[1], dtype=np.uint8).reshape(SIZE) % 3 * 100
    _save(_generic(root) / "masks/synthetic_001.png", values)
    return lambda: read_generic(root), "synthetic_001.png", "not binary: 3 distinct"


def _case_photo_as_jpeg_mask(root):
    photo = np.random.default_rng(0).integers(0, 256, SIZE, dtype=np.uint8)
    (_generic(root) / "masks/synthetic_000.png").unlink()
    _save(root / "masks/synthetic_000.jpg", photo)
    return lambda: read_generic(root), "synthetic_000.jpg", "mid-grey"


def _case_bad_gzip(root):
    write_synthetic_dataset(root, "stare", 1, seed=0, size=SIZE, compress=True)
    path = root / "im0001.ah.ppm.gz"
    path.write_bytes(path.read_bytes()[:40])
    return lambda: read_stare(root), "im0001.ah.ppm.gz", "gzip"


def _case_duplicate_stem(root):
    _save(_generic(root) / "images/synthetic_000.jpg", np.zeros((*SIZE, 3), np.uint8))
    return lambda: read_generic(root), "synthetic_000.jpg", "two files for one image"


def _case_missing_folder(root):
    return lambda: read_hrf(root / "nowhere"), "nowhere", "folder not found"


def _case_wrong_drive_layout(root):
    (root / "training").mkdir()
    return lambda: read_drive(root), str(root), "not a DRIVE folder"


def _case_drive_split_absent(root):
    write_synthetic_dataset(root, "drive", 1, seed=0, size=SIZE)  # training/ only
    return lambda: read_drive(root, "test"), "use --split training", "not a DRIVE folder"


def _case_empty_images(root):
    (_drive(root) / "images").mkdir(exist_ok=True)
    for path in (root / "training/images").iterdir():
        path.unlink()
    return lambda: read_drive(root), "images", "no image files"


def _case_hrf_missing_folder(root):
    write_synthetic_dataset(root, "hrf", 1, seed=0, size=SIZE)
    shutil.rmtree(root / "manual1")
    return lambda: read_hrf(root), str(root), "missing manual1/"


def _case_chase_split_count(root):
    write_synthetic_dataset(root, "chase_db1", 3, seed=0, size=SIZE)
    return lambda: read_chase_db1(root, "training"), str(root), "28 official images, found 3"


def _case_stare_split(root):
    return lambda: read_stare(root, "training"), "STARE", "leave-one-out"


def _case_unknown_dataset(root):
    return lambda: read_dataset("messidor", root), "messidor", "expected one of drive"


def _case_generic_layout(root):
    (root / "pictures").mkdir()
    return lambda: read_generic(root), "images", "expected an images/ folder"


BAD_INPUTS = [
    _case_missing_annotation,
    _case_unreadable_image,
    _case_empty_file,
    _case_size_mismatch,
    _case_16_bit,
    _case_grayscale_fundus,
    _case_transparent,
    _case_not_binary,
    _case_photo_as_jpeg_mask,
    _case_bad_gzip,
    _case_duplicate_stem,
    _case_missing_folder,
    _case_wrong_drive_layout,
    _case_drive_split_absent,
    _case_empty_images,
    _case_hrf_missing_folder,
    _case_chase_split_count,
    _case_stare_split,
    _case_unknown_dataset,
    _case_generic_layout,
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda case: case.__name__[6:])
def test_bad_input_raises_a_named_error(tmp_path, case):
    call, name, problem = case(tmp_path)
    with pytest.raises(VesselnetDataError) as raised:
        call()
    message = str(raised.value)
    assert name in message and problem in message, message
    assert isinstance(raised.value, ValueError)


def test_gzip_of_a_photograph_reads_like_the_plain_file(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (12, 14, 3), dtype=np.uint8)
    _save(tmp_path / "a.ppm", image)
    (tmp_path / "b.ppm.gz").write_bytes(gzip.compress((tmp_path / "a.ppm").read_bytes()))
    assert np.array_equal(read_photograph(tmp_path / "b.ppm.gz"), image)
    assert np.array_equal(read_photograph(tmp_path / "a.ppm"), image)


def _png_with_short_icc_profile(path):
    """A valid PNG whose iCCP chunk is too short: libpng prints a warning when decoding it."""
    import struct
    import zlib

    encoded = cv2.imencode(".png", np.full((40, 40, 3), 90, np.uint8))[1].tobytes()
    body = b"iCCP" + b"bad\x00\x00" + zlib.compress(b"not a profile")
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    path.write_bytes(encoded[:33] + chunk + encoded[33:])  # after the signature and IHDR
    return path


def test_decoder_warnings_of_libpng_and_libtiff_are_not_printed(tmp_path, capfd):
    from vesselnet.data.io import read_array

    png = _png_with_short_icc_profile(tmp_path / "profile.png")
    tiff = tmp_path / "tagged.tif"
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(tiff, tiffinfo={65000: "x"})
    capfd.readouterr()
    for path in (png, tiff):
        image = read_array(path)
        assert image.shape == (40, 40, 3) and (image == 90).all()
    printed = capfd.readouterr()
    assert "libpng" not in printed.err and "TIFF" not in printed.err, printed.err
    assert printed.out == ""
