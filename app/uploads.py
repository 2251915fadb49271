"""Which file paths a handler may read: files Gradio received through its upload route, or bundled assets.

A `gr.File` input arrives as a path, and an API caller can put any server path in the FileData it
sends. Gradio itself only checks that the path lies in its upload folder, which also holds other
visitors' uploads and the files the app hands out. So every path that enters a handler passes
`uploaded_file` first: it must resolve inside the upload folder (`GRADIO_TEMP_DIR`) *and* be one
of the files the running server received through `/upload` (`Blocks.upload_file_set`), or lie in
`assets/`. Gradio names an upload's folder after the SHA-256 of its bytes, so naming someone
else's upload takes holding the very same bytes; nothing is learnt by reading it.

Outside a running server (handlers called as plain functions, in tests) there is no upload set:
the folder rule alone applies.
"""
from __future__ import annotations

from pathlib import Path

from orca_engine.errors import OrcaError

from . import messages

ASSETS = Path(__file__).resolve().parent.parent / "assets"


class UploadRefused(OrcaError):
    """A path that was not uploaded to this server (or is not a readable file)."""


def upload_folder() -> Path:
    from gradio.utils import get_upload_folder
    return Path(get_upload_folder()).resolve()


def _received_uploads() -> set[Path] | None:
    """Every file the running server received through /upload; None outside a running server."""
    from gradio.context import LocalContext
    blocks = LocalContext.blocks.get(None)
    if blocks is None or not getattr(blocks, "has_launched", False):
        return None
    return {Path(p).resolve() for p in list(blocks.upload_file_set)}


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def uploaded_file(file: str | Path | None) -> Path | None:
    """`file` as a path that may be read, None when no file was given; raises UploadRefused otherwise."""
    if not file:
        return None
    name = getattr(file, "path", None) or str(file)  # a FileData-like object or a plain path
    path = Path(name).resolve()
    if _inside(path, ASSETS) and path.is_file():
        return path
    received = _received_uploads()
    if not _inside(path, upload_folder()) or (received is not None and path not in received):
        raise UploadRefused(messages.NOT_AN_UPLOAD.format(name=Path(name).name))
    if not path.is_file():
        raise UploadRefused(messages.UPLOAD_GONE.format(name=path.name))
    return path
