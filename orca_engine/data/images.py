"""Images: a .zip of one folder per class (cats/1.png, dogs/7.jpg), and single images for predict.

All images of a dataset share one size and one colour mode: the most common size (capped at
MAX_SIDE so a 224-px body is the largest thing needed), grayscale unless any image has colour.
Both choices go into the spec so a new image is prepared the same way.

Hostile files stay cheap: the zip is read under a decompression budget (see archives), each
image's width x height is checked from its header before its pixels are allocated
(ORCA_MAX_IMAGE_PIXELS), and Pillow's own bomb guard becomes the same clean DataError.
"""
from __future__ import annotations

import io
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

import numpy as np

from ..errors import DataError
from ..formats import suffixes
from ..limits import MB, Limits, human_bytes, limits
from . import archives

IMAGE_SUFFIXES = suffixes(family="image")
MAX_SIDE = 224
_GRAY_MODES = ("1", "L", "I", "I;16", "F")


def image_entries(archive: archives.BoundedZip) -> list[str]:
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


def open_zip(path: Path) -> archives.BoundedZip:
    """The archive, read under the decompression caps (see orca_engine.limits)."""
    return archives.BoundedZip(path, limits())


def read_class_folders(path: Path, max_samples: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any], list[str]]:
    """(images uint8 (N, H, W, C), class names (N,), image spec, notes) from a zip of class folders.

    Two passes keep memory to one decoded image at a time: headers first (size and mode, checked
    against ORCA_MAX_IMAGE_PIXELS) to fit the common spec, then each image is decoded and shrunk
    to that spec at once. The second pass re-reads entries the first already counted.
    """
    caps = limits()
    with open_zip(path) as archive:
        entries = image_entries(archive)
        _check_entries(entries, path.name, max_samples)
        headers = [read_header(archive.read(e, _entry_limit(caps)), e, caps) for e in entries]
        spec, notes = fit_image_spec(headers)
        _check_stack(len(entries), spec, path.name, caps)
        archive.recount()
        x = np.stack([_conform(_decode(archive.read(e, _entry_limit(caps)), e, caps), spec) for e in entries])
    return x, np.array([class_of(e) for e in entries]), spec, notes


@dataclass(frozen=True)
class ImageHeader:
    """Size and mode of an image, read without decoding its pixels."""
    size: tuple[int, int]  # (width, height), as PIL gives it
    mode: str


def read_header(data: bytes, entry: str, caps: Limits) -> ImageHeader:
    """An image's size and mode from its header; DataError past ORCA_MAX_IMAGE_PIXELS or for non-images."""
    from PIL import Image  # lazy: only image sources need Pillow
    with _decoding(entry, caps):
        image = Image.open(io.BytesIO(data))  # lazy: reads the header, not the pixels
        header = ImageHeader(image.size, image.mode)
    _check_pixels(header.size, entry, caps)
    return header


def _check_pixels(size: tuple[int, int], entry: str, caps: Limits) -> None:
    width, height = size
    if width * height > caps.max_image_pixels:
        raise caps.refuse("max_image_pixels", f"image {entry!r} is {width}x{height} = {width * height:,} pixels",
                          f"downsize it (images are shrunk to at most {MAX_SIDE} px a side anyway)")


@contextmanager
def _decoding(entry: str, caps: Limits) -> Iterator[None]:
    """Pillow's own failures, bomb guards included, as DataErrors naming the image and the fix."""
    from PIL import Image, UnidentifiedImageError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise caps.refuse("max_image_pixels", f"image {entry!r} declares more pixels than Pillow decodes safely",
                          "downsize it") from None
    except UnidentifiedImageError:
        raise DataError(f"cannot decode image {entry!r}: not PNG or JPEG data; remove it or re-save it") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise DataError(f"cannot decode image {entry!r} ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
                        f"remove it or re-save it as PNG or JPEG") from None


def _entry_limit(caps: Limits) -> archives.EntryLimit:
    """Bytes one image file may inflate to: its largest legal raw pixels (8 bytes a pixel) and a margin."""
    return archives.EntryLimit(caps.max_image_pixels * 8 + MB, "max_image_pixels",
                               "an image file within the pixel cap needs at most")


def _check_stack(n: int, spec: dict[str, Any], name: str, caps: Limits) -> None:
    """The float32 (N, C, H, W) stack the engine will hold, checked before any image is decoded."""
    channels = 1 if spec["mode"] == "L" else 3
    nbytes = n * channels * spec["width"] * spec["height"] * 4
    if nbytes > caps.bytes_of("max_array_mb"):
        raise caps.refuse("max_array_mb", f"{n} images of {spec['width']}x{spec['height']}x{channels} in {name} "
                          f"make {human_bytes(nbytes)} of inputs", "use fewer or smaller images")


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


def _decode(data: bytes, entry: str, caps: Limits):
    """The decoded image, its size checked against the cap before pixels are allocated."""
    from PIL import Image
    with _decoding(entry, caps):
        image = Image.open(io.BytesIO(data))
        _check_pixels(image.size, entry, caps)
        image.load()
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
    caps = limits()
    if path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise DataError(f"cannot read {path}: {e.strerror}; check the path") from None
        return to_channels_first(_conform(_decode(data, path.name, caps), spec)[None])
    with open_zip(path) as archive:
        entries = image_entries(archive)
        if not entries:
            raise DataError(f"{path.name} holds no {'/'.join(IMAGE_SUFFIXES)} images")
        _check_stack(len(entries), spec, path.name, caps)
        pixels = np.stack([_conform(_decode(archive.read(e, _entry_limit(caps)), e, caps), spec) for e in entries])
    return to_channels_first(pixels)
