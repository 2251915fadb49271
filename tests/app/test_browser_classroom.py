"""The classroom in a real browser: a lesson plays on a fresh page, the guide and the align vs no-align
pair, the reveal, a GIF export, and a share link opened in a second browser profile (view, not control)."""
import json
import re

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import chrome_driver
from test_browser import click, wait_text
from test_classroom import _run
from orca_engine import lessons as engine_lessons
from orca_engine.lessons import compact_events, write_events_gz


def _toy_lessons(folder):
    lesson = folder / "toy"
    lesson.mkdir(parents=True)
    write_events_gz(lesson / "aligned.jsonl.gz", compact_events(_run(0.95, frames=8)))
    write_events_gz(lesson / "no-align.jsonl.gz", compact_events(_run(0.80, objective="none")))
    (lesson / "lesson.json").write_text(json.dumps({
        "title": "Toy digits lesson", "summary": "an aligned run and the same run without alignment", "order": 1,
        "data": "digits", "runs": {"aligned": {"events": "aligned.jsonl.gz"},
                                   "no-align": {"events": "no-align.jsonl.gz"}}}))


def test_lesson_pair_gif_and_a_read_only_share_link(live_app, chrome, tmp_path, monkeypatch, artifacts):
    _toy_lessons(tmp_path / "lessons")
    monkeypatch.setattr(engine_lessons, "LESSONS_DIR", tmp_path / "lessons")
    monkeypatch.setenv("ORCA_LESSON_AUTOPLAY", "1")

    chrome.get(live_app)  # a fresh page: the lesson plays at once, nothing to press
    wait_text(chrome, "lesson-status", "Toy digits lesson", timeout=90)
    wait_text(chrome, "lesson-guide", "ICML 2023", timeout=30)
    WebDriverWait(chrome, 60).until(lambda d: d.find_elements(
        By.CSS_SELECTOR, "#align-projection .js-plotly-plot .scatterlayer .trace"))
    wait_text(chrome, "test-status", "Test accuracy", timeout=90)  # the replay reached its end
    wait_text(chrome, "lesson-guide", "predict", timeout=30)
    table = wait_text(chrome, "pair-table", "no alignment", timeout=30)
    assert "aligned (ORCA)" in table and "0.95" in table and "0.8" in table

    radio = next(label for label in chrome.find_elements(By.CSS_SELECTOR, "#lesson-predict label")
                 if "A little" in label.text)
    chrome.execute_script("arguments[0].scrollIntoView({block: 'center'});", radio)
    radio.click()
    click(chrome, "lesson-reveal")
    answer = wait_text(chrome, "lesson-answer", "with alignment", timeout=30)
    assert "A little" in answer and "0.95" in answer and "0.8" in answer

    click(chrome, "share-gif")
    assert "px" in wait_text(chrome, "share-status", "GIF ready", timeout=60)
    WebDriverWait(chrome, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#share-gif-file a"))
    click(chrome, "share-link")
    status = wait_text(chrome, "share-status", "?run=", timeout=30)
    link = re.search(r"https?://\S+\?run=[A-Za-z0-9_-]{22}", status).group(0)
    chrome.save_screenshot(str(artifacts / "classroom.png"))

    with chrome_driver() as other:  # a second browser profile: another visitor, only the link
        other.get(link)
        wait_text(other, "lesson-status", "read-only", timeout=90)
        wait_text(other, "test-status", "Test accuracy", timeout=90)  # it can view the run ...
        for button in ("run-pause", "run-step", "run-stop"):  # ... and not control it: the run bar
            for element in other.find_elements(By.CSS_SELECTOR, f"#{button}"):  # is absent, hidden or dead
                assert not element.is_displayed() or not element.is_enabled() or element.get_attribute("disabled")
        other.get(link.replace(link.rsplit("=", 1)[1], "A" * 22))  # a guessed id opens nothing
        wait_text(other, "lesson-status", "unknown", timeout=60)
