"""Decoding caps: every cap documented and overridable; refusals name the cap and its variable."""
from __future__ import annotations

from dataclasses import fields

import pytest

from orca_engine.errors import ConfigError
from orca_engine.limits import Limits, human_bytes

CAPS = [f.name for f in fields(Limits)]


@pytest.mark.parametrize("name", CAPS)
def test_each_cap_has_help_an_env_override_and_a_positive_default(name: str):
    f = next(f for f in fields(Limits) if f.name == name)
    assert f.metadata["help"] and f.metadata["env"].startswith("ORCA_MAX_") and getattr(Limits(), name) > 0
    assert getattr(Limits.from_env({f.metadata["env"]: "7"}), name) == 7


@pytest.mark.parametrize("name", CAPS)
def test_refusal_names_the_value_the_cap_and_its_variable(name: str):
    caps = Limits()
    message = str(caps.refuse(name, "found 9 things", "do less"))
    env = next(f for f in fields(Limits) if f.name == name).metadata["env"]
    assert message.startswith("found 9 things: over the cap of") and f"{getattr(caps, name):,}" in message
    assert env in message and "do less" in message


@pytest.mark.parametrize("text", ["0", "-3", "lots", "1.5"])
def test_bad_override_is_a_config_error_naming_the_variable(text: str):
    with pytest.raises(ConfigError, match=f"ORCA_MAX_CSV_MB = '{text}'"):
        Limits.from_env({"ORCA_MAX_CSV_MB": text})


def test_human_bytes():
    assert [human_bytes(n) for n in (10, 1536, 64 << 40)] == ["10 bytes", "1.5 KiB", "64.0 TiB"]
