"""Fixtures for the web app's tests: offline environment, a fake Session, a live server, a browser."""
from __future__ import annotations

import os
import contextlib
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TINY = {"model.backbone": "tiny-bert", "align.source_samples": 100, "align.samples_per_class": 8,
        "align.projection_points": 60, "refine.batch_size": 64, "data.train_fraction": 0.3}


@pytest.fixture
def tiny_options() -> dict:
    """API keyword arguments that keep a run small: the tiny random BERT, few source points."""
    return {k.replace(".", "_"): v for k, v in TINY.items()}


@pytest.fixture
def upload(tmp_path, monkeypatch):
    """upload(name, content) -> path of a file placed as Gradio places an upload (GRADIO_TEMP_DIR/<sha256>/name)."""
    import hashlib
    folder = tmp_path / "gradio-uploads"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder))

    def place(name: str, content: bytes | str) -> str:
        data = content.encode() if isinstance(content, str) else content
        path = folder / hashlib.sha256(data).hexdigest() / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return str(path)
    return place


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@dataclass
class FakeStatus:
    run_id: str
    state: str = "running"
    stage: str = "align"
    step: int = 0
    total: int = 3
    queue_position: int = 0
    elapsed_s: float = 1.0
    eta_s: float | None = 2.0
    error: str = ""
    stages_done: tuple = ()
    owner: str = ""
    run_dir: str = ""
    metrics: dict = field(default_factory=dict)


class FakeSession:
    """Just enough of orca_engine.session.Session, with its owner check, for handler tests."""

    def __init__(self, folder: Path = Path("runs")):
        self.folder = folder  # where a real Session would keep run folders (and the token key)
        self.records: dict[str, list[dict]] = {}
        self.statuses: dict[str, FakeStatus] = {}
        self.owners: dict[str, str] = {}
        self.calls: list[tuple] = []

    def add_end_listener(self, listener) -> None:  # the classroom's run cache listens; fake runs never end
        pass

    def stopping(self, run_id: str) -> bool:
        return False

    def add_run(self, run_id: str, owner: str, records: list[dict], **status) -> None:
        self.records[run_id] = [{"index": i, "time": 0.0, **r} for i, r in enumerate(records)]
        self.statuses[run_id] = FakeStatus(run_id, owner=owner, **status)
        self.owners[run_id] = owner

    def _check(self, run_id, owner):
        from orca_engine.errors import RunError
        if run_id not in self.owners:
            raise RunError(f"no run {run_id!r}")
        if owner is not None and self.owners[run_id] != owner:
            raise RunError("that run belongs to another visitor")

    def events(self, run_id, since=0, owner=None):
        self._check(run_id, owner)
        return self.records[run_id][since:]

    def status(self, run_id, owner=None):
        self._check(run_id, owner)
        return self.statuses[run_id]

    def run_dir(self, run_id, owner=None):
        self._check(run_id, owner)
        return Path("/nonexistent") / run_id

    @property
    def runs_dir(self):
        return self.folder

    def public_config(self, run_id, owner=None):
        from orca_engine.config import RunConfig
        self._check(run_id, owner)
        return RunConfig()

    def runs(self, owner=None):
        return [s for r, s in self.statuses.items() if owner is None or self.owners[r] == owner]

    def start(self, config, stages=("align", "refine", "evaluate"), owner="", projection_method=None,
              source_name=None):
        run_id = f"run{len(self.statuses) + 1}"
        self.add_run(run_id, owner, [], state="queued")
        self.calls.append(("start", run_id, tuple(stages), projection_method))
        return run_id

    def active_count(self, owner):
        return sum(1 for r, s in self.statuses.items() if self.owners[r] == owner and s.state in ("queued", "running"))

    def owner_present(self, owner):
        self.calls.append(("owner_present", owner))

    def owner_left(self, owner):
        self.calls.append(("owner_left", owner))

    def __getattr__(self, verb):  # pause / resume / step / cancel / set_projection_method
        def act(run_id, *args, owner=None):
            self._check(run_id, owner)
            self.calls.append((verb, run_id))
        return act


@pytest.fixture
def fake_session():
    """A FakeSession installed as the server's Session for one test (the real one is put back)."""
    from app import server
    fake = FakeSession()
    previous = server.install(fake)
    yield fake
    server.install(previous)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_app():
    """The real app on a free localhost port with its own runs folder; yields its URL."""
    from app import server
    from app.ui import build_ui, launch_options
    from orca_engine.session import Session
    runs = Path(tempfile.mkdtemp(prefix="orca-app-runs-"))
    previous = server.install(None)
    # Pages open without the lesson playing (a test that wants it sets ORCA_LESSON_AUTOPLAY=1): a
    # replay in the main view would race the flows these tests click through.
    autoplay = os.environ.get("ORCA_LESSON_AUTOPLAY")
    os.environ["ORCA_LESSON_AUTOPLAY"] = "0"
    demo = build_ui(session=Session(runs_dir=runs, max_active=server.MAX_ACTIVE,
                                    keep_run_folders=server.KEEP_RUN_FOLDERS, keep_per_owner=server.KEEP_PER_VISITOR,
                                    retain_s=server.RELEASE_GRACE_S), warm_up_umap=False)
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(),
                            quiet=True, **launch_options())
    try:
        yield url
    finally:
        demo.close()
        server.install(previous)
        if autoplay is None:
            os.environ.pop("ORCA_LESSON_AUTOPLAY", None)
        else:
            os.environ["ORCA_LESSON_AUTOPLAY"] = autoplay
        shutil.rmtree(runs, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_cached_runs_from_earlier_tests(request):
    """Tests on one live app start afresh: an identical run an earlier test finished would otherwise
    be replayed from the classroom's run cache instead of computing (no run bar, nothing to pause)."""
    if "live_app" in request.fixturenames:
        from app import classroom
        classroom.shared().cache.clear()
    yield


@contextlib.contextmanager
def chrome_driver():
    """Headless Debian Chromium through selenium; the flags keep it off the (closed) network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="orca-chrome-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={profile}", "--window-size=1400,1000"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def chrome():
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        pytest.skip("Chromium / chromedriver not installed (scripts/setup.sh --dev installs them)")
    with chrome_driver() as driver:
        yield driver
