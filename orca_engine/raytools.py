"""Ray, where the engine fans work out over it: a comparison grid's groups (compare/executors.py)
and tuning trials (stages/tune.py). Optional: requirements-scale.txt installs it; the app and a
default install never import it."""
from __future__ import annotations

from .errors import ConfigError

EXECUTOR_HELP = "serial (this process) or ray[:ADDRESS] (Ray tasks; ADDRESS of a cluster, or 'auto'; none: a local Ray)"


def parse_executor(text: str | None, option: str) -> tuple[str, str | None]:
    """('serial', None) or ('ray', ADDRESS or None) from 'serial' / 'ray' / 'ray:ADDRESS'; ConfigError
    naming `option` (the flag or config option it came from) otherwise."""
    name, _, address = (text or "serial").strip().partition(":")
    if name == "serial" and not address:
        return "serial", None
    if name == "ray":
        return "ray", address or None
    raise ConfigError(f"{option} {text!r} is not known; use {EXECUTOR_HELP}")


def start_ray(address: str | None, what: str):
    """The `ray` module, initialised: a running cluster at `address` ('auto' finds one), or a local
    Ray on this machine's cores when `address` is None (unless this process already started one).
    ConfigError naming `what` asked for it when Ray is not installed."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"{what} needs Ray: pip install -r requirements-scale.txt (or pip install ray)") from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return ray
