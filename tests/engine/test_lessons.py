"""The shipped lessons: each loads, plays a real run (frames, a test result), stays small and names no server path."""
import gzip
import json

import pytest

from orca_engine.lessons import LESSONS_DIR, lesson_names, load_lesson

NAMES = lesson_names()


def test_lessons_ship_with_the_app():
    assert {"digits-minilm", "signals-minilm", "breast-cancer-minilm"} <= set(NAMES)
    assert NAMES[0] == "digits-minilm"  # the one a fresh page plays
    assert set(load_lesson("digits-minilm").runs) == {"aligned", "no-align"}  # the align vs no-align pair


@pytest.mark.parametrize("name", NAMES)
def test_a_lesson_is_a_finished_real_run(name):
    lesson = load_lesson(name)
    aligned = lesson.runs["aligned"]
    assert aligned[0]["type"] == "run_started" and aligned[-1]["type"] == "finished"
    assert aligned[0]["config"]["model"]["backbone"] == "minilm"  # recorded on the real default body
    assert sum(r["type"] == "projection" for r in aligned) >= 10
    assert [r["index"] for r in aligned] == list(range(len(aligned)))
    assert lesson.meta["runs"]["aligned"]["test"] == aligned[-1]["metrics"]


def test_lessons_are_compact_and_hold_no_server_paths():
    files = list(LESSONS_DIR.glob("*/*.gz"))
    assert sum(f.stat().st_size for f in files) < 400 * 1024
    for path in files:
        text = gzip.decompress(path.read_bytes()).decode()
        for prefix in ("/tmp/", "/work/", "/home/", "/root/"):
            assert prefix not in text, (path, prefix)
    assert not list(LESSONS_DIR.glob("*/*.safetensors"))  # events only, no weights
    for meta in LESSONS_DIR.glob("*/lesson.json"):
        json.loads(meta.read_text())
