"""A real browser (headless Chromium) clicks through the example flow; the screenshot is kept as an artifact."""
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait



def text_of(driver, elem_id: str) -> str:
    return driver.find_element(By.ID, elem_id).text


def wait_text(driver, elem_id: str, needle: str, timeout: float = 120) -> str:
    WebDriverWait(driver, timeout, poll_frequency=0.5).until(lambda d: needle in text_of(d, elem_id))
    return text_of(driver, elem_id)


def set_number(driver, elem_id: str, value) -> None:
    box = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(value), Keys.TAB)


def pick(driver, elem_id: str, value: str) -> None:
    box = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(value)
    time.sleep(0.3)
    box.send_keys(Keys.ENTER)


def click(driver, elem_id: str) -> None:
    button = driver.find_element(By.ID, elem_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()


def test_example_flow_in_chromium(live_app, chrome, artifacts):
    chrome.get(live_app)
    WebDriverWait(chrome, 60).until(lambda d: d.find_elements(By.ID, "use-example"))
    assert "1. Data" in chrome.page_source and "6. Export" in chrome.page_source

    click(chrome, "use-example")
    summary = wait_text(chrome, "data-status", "classification", timeout=60)
    assert "10 classes" in summary

    pick(chrome, "opt-model-backbone", "tiny-bert")
    wait_text(chrome, "backbone-summary", "tiny-bert", timeout=20)
    set_number(chrome, "opt-align-steps", 10)
    set_number(chrome, "opt-align-lr", 0.01)
    click(chrome, "align-start")
    aligned = wait_text(chrome, "align-status", "Aligned", timeout=150)
    assert "10 steps" in aligned

    set_number(chrome, "opt-refine-epochs", 1)
    click(chrome, "refine-start")
    headline = wait_text(chrome, "test-status", "Test accuracy", timeout=180)
    assert "held-out" in headline
    time.sleep(1.5)  # let the last figures settle before the picture

    plots = chrome.find_elements(By.CSS_SELECTOR, "#align-projection .js-plotly-plot .scatterlayer .trace")
    assert len(plots) >= 2  # source and target told apart
    assert chrome.find_elements(By.CSS_SELECTOR, "#test-plot .js-plotly-plot")

    height = chrome.execute_script("return document.body.scrollHeight")
    chrome.set_window_size(1400, min(height + 100, 8000))
    chrome.execute_script("window.scrollTo(0, 0);")
    time.sleep(1.0)
    path = artifacts / "app.png"
    assert chrome.save_screenshot(str(path)) and path.stat().st_size > 50_000

    # A reloaded page re-attaches to the visitor's run (run id kept in the browser). The old page's
    # close and the new page's load race; the run must survive either order.
    chrome.refresh()
    wait_text(chrome, "test-status", "Test accuracy", timeout=60)
    assert "Aligned in 10 steps" in wait_text(chrome, "align-status", "Aligned", timeout=30)
    steps_box = chrome.find_element(By.CSS_SELECTOR, "#opt-align-steps input")
    WebDriverWait(chrome, 20).until(lambda d: steps_box.get_attribute("value") == "10")  # options restored too


def test_uploaded_csv_flow_in_chromium(live_app, chrome, tmp_path):
    """A newcomer's own file: a bad upload is explained next to the upload, a CSV runs end to end."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    bunch = load_breast_cancer(as_frame=True)
    table = bunch.frame.drop(columns="target").iloc[:, :8]
    table["diagnosis"] = bunch.target.map({0: "malignant", 1: "benign"})
    good = tmp_path / "tumours.csv"
    table.to_csv(good, index=False)
    bad = tmp_path / "notes.csv"
    bad.write_text("just one line of prose, no table here\n")

    chrome.get(live_app)
    WebDriverWait(chrome, 60).until(lambda d: d.find_elements(By.ID, "data-upload"))
    upload = chrome.find_element(By.CSS_SELECTOR, "#data-upload input[type=file]")
    upload.send_keys(str(bad))
    WebDriverWait(chrome, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#data-status .orca-error"))
    said = text_of(chrome, "data-status")
    assert "notes.csv" in said and "no data rows" in said, said

    chrome.refresh()
    WebDriverWait(chrome, 60).until(lambda d: d.find_elements(By.ID, "data-upload"))
    chrome.find_element(By.CSS_SELECTOR, "#data-upload input[type=file]").send_keys(str(good))
    summary = wait_text(chrome, "data-status", "classification", timeout=60)
    assert "2 classes" in summary and "shape (8,)" in summary, summary
    picker = chrome.find_element(By.CSS_SELECTOR, "#label-column input")
    assert picker.get_attribute("value") == "diagnosis"  # the label column was guessed

    pick(chrome, "opt-model-backbone", "tiny-bert")
    wait_text(chrome, "backbone-summary", "tiny-bert", timeout=20)
    set_number(chrome, "opt-align-steps", 5)
    click(chrome, "align-start")
    assert "5 steps" in wait_text(chrome, "align-status", "Aligned", timeout=150)
    set_number(chrome, "opt-refine-epochs", 1)
    click(chrome, "refine-start")
    assert "held-out" in wait_text(chrome, "test-status", "Test accuracy", timeout=180)
    click(chrome, "export-prepare")
    WebDriverWait(chrome, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#export-zip a[href*='.zip']"))
    assert "python -m orca_engine run" in wait_text(chrome, "export-command", "--data", timeout=30)
