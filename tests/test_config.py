"""Configuration: TOML plus environment, every key documented, bad values named."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from services.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_key_is_documented_in_the_example():
    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    for section, field in Settings.model_fields.items():
        assert section in example or section == "groups", section
        model = field.annotation
        if hasattr(model, "model_fields"):
            for key in model.model_fields:
                assert key in example[section], f"[{section}] {key} missing from config.example.toml"


def test_example_loads_and_environment_overrides(monkeypatch):
    monkeypatch.setenv("PARTNERBOT_CONFIG", str(ROOT / "config.example.toml"))
    monkeypatch.setenv("PARTNERBOT_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("PARTNERBOT_WECHAT__APP_SECRET", "s3cret")
    monkeypatch.setenv("PARTNERBOT_APP__LOCALE", "en")
    s = load_settings()
    assert s.database.url == "sqlite:///elsewhere.db"
    assert s.wechat.app_secret == "s3cret" and s.app.locale == "en"
    assert s.app.timezone == "Asia/Shanghai"


@pytest.mark.parametrize("var,value,key", [
    ("PARTNERBOT_APP__TIMEZONE", "Mars/Olympus", "app.timezone"),
    ("PARTNERBOT_DATABASE_URL", "mysql://x", "database.url"),
    ("PARTNERBOT_WECHAT__AES_KEY", "short", "wechat.aes_key"),
    ("PARTNERBOT_DISPATCHER__MAX_ATTEMPTS", "0", "dispatcher.max_attempts"),
])
def test_invalid_configuration_names_the_key(monkeypatch, var, value, key):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings()


def test_bad_toml_file_is_named(monkeypatch, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[app\nx=", encoding="utf-8")
    monkeypatch.setenv("PARTNERBOT_CONFIG", str(bad))
    with pytest.raises(ConfigError, match="PARTNERBOT_CONFIG"):
        load_settings()


def test_cli_refuses_to_start_on_invalid_config(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PARTNERBOT_APP__QUIET_HOURS": "late",
           "PARTNERBOT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    done = subprocess.run([str(Path(sys.executable).parent / "partnerbot"), "db", "upgrade"], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 2 and "app.quiet_hours" in done.stderr
