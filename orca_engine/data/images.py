"""Images: a .zip of one folder per class (cats/1.png, dogs/7.jpg), and single images for predict.

All images of a dataset share one size and one colour mode: the most common size (capped at
MAX_SIDE so a 224-px body is the largest thing needed), grayscale unless any image has colour.
Both choices go into the spec so a new image is prepared the same way.
"""
from __future__ import annotations

import io
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_SIDE = 224
_GRAY_MODES = ("1", "L", "I", "I;16", "F")


def image_entries(archive: zipfile.ZipFile) -> list[str]:
    """Image files in the archive, skipping macOS metadata and hidden files, in a stable order."""
    names = []
    for name in archive.namelist():
        parts = PurePosixPath(name).parts
        if name.endswith("/") or any(p.startswith((".", "__MACOSX")) for p in parts):
            continue
        if PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES:
            names.append(name)
    return sorted(names)


def class_of(entry: str) -> str:
    """An image's class: the folder it sits in."""
    return PurePosixPath(entry).parent.name


def open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise DataError(f"file not found: {path}; check the path") from None
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"cannot open {path.name} as a zip archive ({e}); zip a folder that holds one "
                        f"sub-folder of images per class") from None


def read_class_folders(path: Path, max_samples: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any], list[str]]:
    """(images uint8 (N, H, W, C), class names (N,), image spec, notes) from a zip of class folders."""
    with open_zip(path) as archive:
        entries = image_entries(archive)
        _check_entries(entries, path.name, max_samples)
        images = [_decode(archive.read(e), e) for e in entries]
    spec, notes = fit_image_spec(images)
    x = np.stack([_conform(img, spec) for img in images])
    return x, np.array([class_of(e) for e in entries]), spec, notes


def _check_entries(entries: list[str], name: str, max_samples: int) -> None:
    if not entries:
        raise DataError(f"{name} holds no {'/'.join(IMAGE_SUFFIXES)} images; zip one folder per class, "
                        f"e.g. cats/1.png, dogs/2.png")
    loose = [e for e in entries if class_of(e) == ""]
    if loose:
        raise DataError(f"{len(loose)} images in {name} are not in a class folder (e.g. {loose[0]!r}); "
                        f"put each image in a folder named after its class")
    if len(entries) > max_samples:
        raise DataError(f"{name} holds {len(entries)} images, more than data.max_samples = {max_samples}; "
                        f"raise data.max_samples or zip fewer images")
    classes = sorted({class_of(e) for e in entries})
    if len(classes) == 1:
        raise DataError(f"every image in {name} is in the one folder {classes[0]!r}; classification needs "
                        f"at least two classes: put each class in its own folder, e.g. cats/1.png, dogs/2.png")


def fit_image_spec(images: list) -> tuple[dict[str, Any], list[str]]:
    """Common size (most frequent, capped at MAX_SIDE) and mode (RGB if any image has colour)."""
    mode = "L" if all(img.mode in _GRAY_MODES for img in images) else "RGB"
    (width, height), count = Counter(img.size for img in images).most_common(1)[0]
    notes = []
    if count < len(images):
        notes.append(f"{len(images) - count} images resized to the most common size {width}x{height}")
    scale = min(1.0, MAX_SIDE / max(width, height))
    if scale < 1.0:
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        notes.append(f"images downsized to {width}x{height} (largest side {MAX_SIDE})")
    notes.append(f"images read as {'grayscale (1 channel)' if mode == 'L' else 'colour (3 channels)'}, "
                 f"pixel values scaled to [0, 1]")
    return {"mode": mode, "width": width, "height": height}, notes


def _decode(data: bytes, entry: str):
    from PIL import Image, UnidentifiedImageError  # lazy: only image sources need Pillow
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except UnidentifiedImageError:
        raise DataError(f"cannot decode image {entry!r}: not PNG or JPEG data; remove it or re-save it") from None
    except (OSError, ValueError) as e:
        raise DataError(f"cannot decode image {entry!r} ({e}); remove it or re-save it as PNG or JPEG") from None
    return image


def _conform(image, spec: dict[str, Any]) -> np.ndarray:
    """One image as uint8 (H, W, C) in the dataset's mode and size."""
    from PIL import Image
    image = image.convert(spec["mode"])
    if image.size != (spec["width"], spec["height"]):
        image = image.resize((spec["width"], spec["height"]), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def to_channels_first(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [0, 1]."""
    return np.ascontiguousarray(np.moveaxis(images, -1, 1), dtype=np.float32) / 255.0


def read_images_for_predict(path: Path, spec: dict[str, Any]) -> np.ndarray:
    """A single image file or a zip of images (any folders) as float32 (N, C, H, W) in [0, 1]."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise DataError(f"cannot read {path}: {e.strerror}; check the path") from None
        images = [_decode(data, path.name)]
    else:
        with open_zip(path) as archive:
            entries = image_entries(archive)
            if not entries:
                raise DataError(f"{path.name} holds no {'/'.join(IMAGE_SUFFIXES)} images")
            images = [_decode(archive.read(e), e) for e in entries]
    return to_channels_first(np.stack([_conform(img, spec) for img in images]))
