"""The README's pictures: the app on the default backbone, the digits example, UMAP live view.

    python bench/screenshots.py            # writes docs/screenshot-align.png, docs/screenshot-test.png

Starts the app on a free localhost port, waits for UMAP to be ready, then in headless Chromium
(as the browser test) loads the example, picks UMAP, aligns with the default settings, refines
for `--epochs` epochs and takes two viewport pictures: the alignment step and the test step.
"""
from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "app"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8, help="refine epochs (8: the default run)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)

    from conftest import chrome_driver  # the browser test's set-up
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from test_browser import click, set_number, wait_text

    from app import handlers
    from app.ui import build_ui, launch_options
    from orca_engine import projection

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handlers.RUNS_DIR = Path(tempfile.mkdtemp(prefix="orca-screenshot-runs-"))
    demo = build_ui(warm_up_umap=True)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **launch_options())
    try:
        projection.warm_up_umap_in_background().join(300)
        if not projection.is_umap_ready():
            raise SystemExit(f"UMAP is not available: {projection.umap_unavailable_reason()}")
        with chrome_driver() as driver:
            driver.set_window_size(1400, 1450)
            driver.get(f"http://127.0.0.1:{port}/")
            WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "use-example"))
            click(driver, "use-example")
            wait_text(driver, "data-status", "classification", timeout=60)
            umap = next(label for label in driver.find_elements(By.CSS_SELECTOR, "#projection-method label")
                        if "UMAP" in label.text)
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", umap)
            umap.click()
            time.sleep(1.0)
            click(driver, "align-start")
            wait_text(driver, "align-status", "Aligned", timeout=600)
            time.sleep(2.0)  # the last frame and heatmap
            _scroll_to(driver, "align-start", offset=-300)
            driver.save_screenshot(str(args.out / "screenshot-align.png"))
            set_number(driver, "opt-refine-epochs", args.epochs)
            click(driver, "refine-start")
            wait_text(driver, "test-status", "Test accuracy", timeout=1800)
            time.sleep(2.0)
            _scroll_to(driver, "refine-status", offset=-80)
            driver.save_screenshot(str(args.out / "screenshot-test.png"))
    finally:
        demo.close()
    print(f"wrote {args.out / 'screenshot-align.png'} and {args.out / 'screenshot-test.png'}")


def _scroll_to(driver, elem_id: str, offset: int) -> None:
    from selenium.webdriver.common.by import By
    element = driver.find_element(By.ID, elem_id)
    driver.execute_script("window.scrollTo(0, arguments[0].getBoundingClientRect().top + window.scrollY + "
                          "arguments[1]);", element, offset)
    time.sleep(0.8)


if __name__ == "__main__":
    main()
