"""A zip of class folders becomes (N, C, H, W) images; new images are encoded the same way."""
from __future__ import annotations

import numpy as np
from data_builders import class_folder_zip, config, png_bytes, write_zip

from orca_engine.data import encode_inputs, encode_labelled, load_dataset


def test_class_folders_become_labelled_grayscale_images(tmp_path):
    ds = load_dataset(config(class_folder_zip(tmp_path / "pets.zip", per_class=6)), seed=0)
    assert (ds.modality, ds.task, ds.class_names) == ("image", "classification", ["cats", "dogs"])
    assert ds.input_shape == (1, 8, 8) and ds.x_train.dtype == np.float32
    assert sum(ds.report["splits"].values()) == 12
    grey = ds.preview(12)["x"][:, 0, 0, 0] * 255  # each image is flat grey 40 * class + index (index < 6)
    offset = grey - 40 * ds.y_train
    assert (offset > -0.5).all() and (offset < 5.5).all(), "labels must follow the class folders"


def test_colour_and_odd_sizes_are_unified(tmp_path):
    files = {f"a/{i}.png": png_bytes(10, mode="RGB") for i in range(4)}
    files.update({f"b/{i}.png": png_bytes(200) for i in range(3)})
    files["b/big.png"] = png_bytes(200, size=(16, 16))
    files["__MACOSX/a/._0.png"] = b"resource fork"  # macOS litter is skipped
    ds = load_dataset(config(write_zip(tmp_path / "mixed.zip", files)), seed=0)
    assert ds.input_shape == (3, 8, 8)
    assert any("resized" in n for n in ds.report["notes"])


def test_new_png_and_zip_encode_like_training(tmp_path):
    ds = load_dataset(config(class_folder_zip(tmp_path / "pets.zip")), seed=0)
    (tmp_path / "one.png").write_bytes(png_bytes(41, size=(16, 16)))
    single = encode_inputs(tmp_path / "one.png", ds.spec)
    batch = encode_inputs(write_zip(tmp_path / "new.zip", {"x/1.png": png_bytes(41), "2.png": png_bytes(0)}),
                          ds.spec)
    assert single.shape == (1, 1, 8, 8) and batch.shape == (2, 1, 8, 8)
    np.testing.assert_allclose(single[0], batch[1], atol=1e-5)  # entries are sorted: 2.png, then x/1.png
    assert not np.allclose(batch[0], batch[1])


def test_encode_labelled_reads_class_folders(tmp_path):
    ds = load_dataset(config(class_folder_zip(tmp_path / "pets.zip")), seed=0)
    x, y = encode_labelled(class_folder_zip(tmp_path / "more.zip", per_class=2, classes=("dogs", "cats")), ds.spec)
    assert x.shape == (4, 1, 8, 8)
    np.testing.assert_array_equal(y, [0, 0, 1, 1])  # sorted entries: pets/cats/* then pets/dogs/*
