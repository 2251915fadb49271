"""Every screen tells the truth (issue 15), checked in headless Chromium on what the page shows.

New data clears the old results; a paused alignment leads on to refinement through the run bar;
a reload restores step 1; a chance-level run is marked and shows its baselines; an unavailable
backbone cannot be started; the exported figures open with no network.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from gradio_client import Client
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from test_browser import click, pick, set_number, text_of, wait_text

from app import messages

pytestmark = pytest.mark.browser


def open_app(driver, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "use-example"))


def use_example(driver, name: str) -> str:
    pick(driver, "example-picker", name)
    click(driver, "use-example")
    return WebDriverWait(driver, 60).until(
        lambda d: name in text_of(d, "data-status") and "classification" in text_of(d, "data-status")
        and text_of(d, "data-status"))


def toast(driver, needle: str, timeout: float = 30) -> str:
    """The text of the error/info toast that contains `needle`."""
    def found(d):
        texts = [t.text for t in d.find_elements(By.CSS_SELECTOR, ".toast-body")]
        return next((t for t in texts if needle in t), False)
    return WebDriverWait(driver, timeout, poll_frequency=0.3).until(found)


def bar_visible(driver) -> bool:
    try:
        bars = driver.find_elements(By.ID, "run-bar")
        return bool(bars) and bars[0].is_displayed()
    except StaleElementReferenceException:  # redrawn meanwhile: ask again
        return False


def bar_text(driver) -> str:
    """The run bar's line, or "" once the bar is gone (the run ended or became idle)."""
    try:
        return text_of(driver, "run-bar-status")
    except (StaleElementReferenceException, NoSuchElementException):
        return ""


def enabled(driver, elem_id: str) -> bool:
    try:
        return driver.find_element(By.ID, elem_id).is_enabled()
    except (StaleElementReferenceException, NoSuchElementException):
        return False


def press(driver, elem_id: str) -> None:
    """Click a run-bar button, which the page may redraw between finding it and clicking it."""
    WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: click(d, elem_id) is None)


def tiny_run(driver, align_steps: int = 3) -> None:
    pick(driver, "opt-model-backbone", "tiny-bert")
    wait_text(driver, "backbone-summary", "tiny-bert", timeout=20)
    set_number(driver, "opt-align-steps", align_steps)
    set_number(driver, "opt-refine-epochs", 1)


def test_new_data_clears_old_results_and_a_reload_restores_the_data_step(live_app, chrome):
    open_app(chrome, live_app)
    use_example(chrome, "iris")
    tiny_run(chrome)
    click(chrome, "refine-start")  # align, then refine and test, in one go
    wait_text(chrome, "test-status", "Test accuracy", timeout=240)
    WebDriverWait(chrome, 30).until(lambda d: not bar_visible(d))  # the run bar goes when the run ends
    set_number(chrome, "try-sample", 2)
    click(chrome, "try-predict")
    WebDriverWait(chrome, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#try-prediction tbody tr td"))
    WebDriverWait(chrome, 30).until(lambda d: [e for e in d.find_elements(By.ID, "try-sample-table")
                                              if e.is_displayed()])

    # a reload: the data step names the run's data again, beside the re-attached results
    chrome.refresh()
    WebDriverWait(chrome, 60).until(lambda d: d.find_elements(By.ID, "use-example"))
    wait_text(chrome, "test-status", "Test accuracy", timeout=60)
    restored = wait_text(chrome, "data-status", "iris", timeout=30)
    assert "3 classes" in restored and messages.NO_DATA not in restored

    # new data: every result of the iris run leaves the page
    use_example(chrome, "wine")
    note = wait_text(chrome, "data-cleared", "cleared", timeout=30)
    assert "previous run" in note
    assert wait_text(chrome, "test-status", messages.NO_TEST_YET[:20], timeout=30)
    assert text_of(chrome, "align-status") == messages.NO_RUN
    assert text_of(chrome, "refine-status") == messages.NO_RUN
    assert not chrome.find_elements(By.CSS_SELECTOR, "#try-prediction tbody tr td")
    assert not [e for e in chrome.find_elements(By.ID, "try-sample-table") if e.is_displayed()]
    assert not chrome.find_elements(By.CSS_SELECTOR, "#test-plot .heatmaplayer")  # no confusion matrix
    assert not chrome.find_elements(By.CSS_SELECTOR, "#align-loss .scatterlayer .trace")  # no old curve


def _step(bar: str) -> str:
    """'Step 3, aligning · Paused: align step 2/4 · ...' -> 'align 2/4' (the stage and step shown)."""
    found = re.search(r"(\w+) step (\d+)/", bar)
    return f"{found.group(1)} {found.group(2)}" if found else bar


def test_a_paused_alignment_leads_on_to_refinement_through_the_run_bar(live_app, chrome, tiny_options):
    # Another visitor's paused run holds the server's one worker slot, so this page's run stays
    # queued until the test lets it go: the Pause below lands before its first step on any machine
    # (a warm tiny run otherwise ends before the page's next tick shows the button).
    blocker = Client(live_app, verbose=False)
    blocker.predict("iris", api_name="/use_example")
    blocker.predict(**{**tiny_options, "seed": 99}, align_steps=50, api_name="/start_align")
    blocker.predict(api_name="/pause")
    open_app(chrome, live_app)
    use_example(chrome, "iris")
    tiny_run(chrome, align_steps=4)
    click(chrome, "align-start")
    WebDriverWait(chrome, 120).until(lambda d: bar_visible(d) and enabled(d, "run-pause")
                                     and "Queued" in bar_text(d))
    press(chrome, "run-pause")  # while queued: it will hold before the first alignment step, and says so
    WebDriverWait(chrome, 60).until(lambda d: "Paused" in bar_text(d) and "still in the queue" in bar_text(d))
    blocker.predict(api_name="/stop")  # the slot frees: the run prepares, then holds
    WebDriverWait(chrome, 120).until(lambda d: "Paused" in bar_text(d) and
                                     any(stage in bar_text(d) for stage in ("Preparing", "aligning")))
    WebDriverWait(chrome, 30).until(  # the buttons follow at the page's next tick
        lambda d: enabled(d, "run-resume") and enabled(d, "run-step") and not enabled(d, "run-pause"))

    click(chrome, "refine-start")  # ambiguous before: now it says where the run is and what leads on
    said = toast(chrome, "paused at step")
    assert "Resume" in said

    for _ in range(15):  # step through to the end: the pause is still on when alignment finishes
        if "Aligned" in text_of(chrome, "align-status"):
            break
        before = bar_text(chrome)
        press(chrome, "run-step")
        WebDriverWait(chrome, 60).until(lambda d: "Aligned" in text_of(d, "align-status")
                                        or ("Paused" in bar_text(d) and _step(bar_text(d)) != _step(before)))
    wait_text(chrome, "align-status", "Aligned", timeout=60)
    click(chrome, "refine-start")
    WebDriverWait(chrome, 120).until(lambda d: "refin" in bar_text(d).lower()
                                     or "Test accuracy" in text_of(d, "test-status"))
    assert "Paused" not in bar_text(chrome), "the late pause carried into refinement"
    wait_text(chrome, "test-status", "Test accuracy", timeout=240)


def test_a_chance_level_run_carries_the_warning_and_the_baselines(live_app, chrome, tmp_path):
    rng = np.random.default_rng(0)
    rows = ["a,b,c,label"] + [f"{x:.3f},{y:.3f},{z:.3f},{'rare' if i % 10 == 0 else 'common'}"
                              for i, (x, y, z) in enumerate(rng.normal(size=(200, 3)))]
    noise = tmp_path / "noise.csv"
    noise.write_text("\n".join(rows) + "\n")  # features that say nothing about the label
    open_app(chrome, live_app)
    chrome.find_element(By.CSS_SELECTOR, "#data-upload input[type=file]").send_keys(str(noise))
    wait_text(chrome, "data-status", "2 classes", timeout=60)
    tiny_run(chrome)
    click(chrome, "refine-start")
    wait_text(chrome, "test-status", "Test accuracy", timeout=240)
    warning = WebDriverWait(chrome, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#test-status .orca-warning"))[0].text
    assert "no better than always answering the most frequent class" in warning
    table = wait_text(chrome, "test-metrics", messages.MAJORITY_ROW, timeout=30)
    assert "baseline: " in table and "random guess" in table


def test_an_unavailable_backbone_cannot_be_started(live_app, chrome):
    open_app(chrome, live_app)
    use_example(chrome, "iris")
    pick(chrome, "opt-model-backbone", "roberta-base")
    summary = wait_text(chrome, "backbone-summary", "unavailable", timeout=20)
    assert chrome.find_elements(By.CSS_SELECTOR, "#backbone-summary .orca-warning"), summary
    click(chrome, "align-start")
    assert "unavailable" in toast(chrome, "Pick one marked available")
    assert messages.NO_RUN in text_of(chrome, "align-status") and not bar_visible(chrome)


def test_exported_figures_open_with_no_network(chrome, tmp_path):
    """figures.html holds plotly itself: Chromium draws every figure from the file alone."""
    from app.exporting import figures_html
    from app.state import RunView
    view = RunView()
    view.apply_all([{"index": 0, "type": "step", "stage": "align", "step": 1, "loss": 2.0, "time": 0.0},
                    {"index": 1, "type": "step", "stage": "align", "step": 2, "loss": 1.0, "time": 1.0}])
    path = figures_html(view, tmp_path / "figures.html", "run-1")
    html = path.read_text()
    assert "<script src=" not in html and len(html) > 1_000_000  # plotly.js itself is inside
    chrome.execute_cdp_cmd("Network.enable", {})
    chrome.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": True, "latency": 0,
                                                                "downloadThroughput": 0, "uploadThroughput": 0})
    chrome.get(path.as_uri())
    drawn = WebDriverWait(chrome, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg"))
    assert len(chrome.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")) == 5 and drawn
    assert chrome.execute_script("return typeof Plotly") == "object"


def test_clearing_a_bad_upload_clears_its_error(live_app, chrome, tmp_path):
    prose = tmp_path / "story.txt"
    prose.write_text("It was a bright cold day in April.\nThe clocks were striking thirteen, and all was quiet.\n")
    open_app(chrome, live_app)
    chrome.find_element(By.CSS_SELECTOR, "#data-upload input[type=file]").send_keys(str(prose))
    said = WebDriverWait(chrome, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#data-status .orca-error"))[0].text
    assert "story.txt does not look like a table" in said and "only 2 samples" not in said
    chrome.find_element(By.CSS_SELECTOR, "#data-upload button[aria-label='Clear']").click()
    WebDriverWait(chrome, 30).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#data-status .orca-error"))
    assert messages.NO_DATA in text_of(chrome, "data-status")
    assert not chrome.find_elements(By.ID, "load-upload")  # no button that repeats what the upload did
