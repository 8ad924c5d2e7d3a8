"""Settings: one TOML file plus environment variables, every key in config.example.toml.

`PARTNERBOT_CONFIG` names the TOML file; `PARTNERBOT_DATABASE_URL` selects the database;
any other key is `PARTNERBOT_<SECTION>__<KEY>`. Invalid values stop start-up with a
`ConfigError` that names the key.
"""
from __future__ import annotations

import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


TARGET_CHANNELS = ("wecom_robot", "telegram", "wecom", "wechat", "console")


def _check_target(name: str, target: str) -> str:
    channel, _, address = target.partition(":")
    if channel not in TARGET_CHANNELS or not address:
        raise ValueError(f"{name}: expected CHANNEL:ADDRESS, e.g. telegram:-100123")
    return target


class ConfigError(Exception):
    """Invalid configuration; the message names the key."""


class AppSection(BaseModel):
    timezone: str = "Asia/Shanghai"
    locale: str = "zh-CN"
    undo_window_hours: int = Field(24, ge=0)
    quiet_hours: str = "22:00-08:00"
    # per target: a [groups] region, "channel:address" or "user:NAME" → its own quiet hours ("" = never quiet)
    quiet_hours_by_target: dict[str, str] = {}
    merge_window_seconds: int = Field(60, ge=0)
    invite_ttl_hours: int = Field(72, gt=0)
    claim_protection_days: int = Field(90, gt=0)
    public_base_url: str = "http://127.0.0.1:8000"
    files_dir: str = "files"                  # where /export writes files and /import keeps uploads
    link_ttl_minutes: int = Field(30, gt=0)   # how long a download or upload link from chat works

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("locale")
    @classmethod
    def _locale(cls, v: str) -> str:
        if v not in ("zh-CN", "en"):
            raise ValueError("must be zh-CN or en")
        return v

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str) -> str:
        if v and not re.fullmatch(r"\d{2}:\d{2}-\d{2}:\d{2}", v):
            raise ValueError("must look like 22:00-08:00, or be empty")
        return v

    @field_validator("quiet_hours_by_target")
    @classmethod
    def _quiet_targets(cls, v: dict[str, str]) -> dict[str, str]:
        for target, spec in v.items():
            if spec and not re.fullmatch(r"\d{2}:\d{2}-\d{2}:\d{2}", spec):
                raise ValueError(f"{target!r}: must look like 22:00-08:00, or be empty")
        return v


class DatabaseSection(BaseModel):
    url: str = "sqlite:///partnerbot.db"
    echo: bool = False
    pool_size: int = Field(5, gt=0)
    busy_timeout_ms: int = Field(5000, ge=0)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", v):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return v


class WechatSection(BaseModel):
    app_id: str = ""
    app_secret: str = ""
    token: str = ""
    aes_key: str = ""
    api_base_url: str = "https://api.weixin.qq.com"
    templates: dict[str, str] = {}
    reply_deadline_seconds: float = Field(4.0, gt=0, lt=5)   # then answer empty and send the reply later

    @field_validator("aes_key")
    @classmethod
    def _aes(cls, v: str) -> str:
        if v and len(v) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        return v


class WecomSection(BaseModel):
    corp_id: str = ""
    agent_id: int = 0
    secret: str = ""
    token: str = ""
    aes_key: str = ""
    api_base_url: str = "https://qyapi.weixin.qq.com"

    @field_validator("aes_key")
    @classmethod
    def _aes(cls, v: str) -> str:
        if v and len(v) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        return v


class TelegramSection(BaseModel):
    bot_token: str = ""
    webhook_secret: str = ""
    api_base_url: str = "https://api.telegram.org"
    polling: bool = False


class DispatcherSection(BaseModel):
    interval_seconds: float = Field(2.0, gt=0)
    batch_size: int = Field(50, gt=0)
    lease_seconds: int = Field(60, gt=0)
    max_attempts: int = Field(40, gt=0)
    backoff_base_seconds: float = Field(5.0, gt=0)
    backoff_max_seconds: float = Field(900.0, gt=0)
    rate_per_minute: int = Field(20, gt=0)
    channel_rate_per_minute: dict[str, int] = {"wecom_robot": 20}
    keep_sent_days: int = Field(30, gt=0)

    @field_validator("channel_rate_per_minute")
    @classmethod
    def _rates(cls, v: dict[str, int]) -> dict[str, int]:
        for channel, rate in v.items():
            if rate <= 0:
                raise ValueError(f"{channel}: must be a positive number of messages a minute")
        return v


class SchedulerSection(BaseModel):
    enabled: bool = True
    jobs: dict[str, str] = {
        "low_stock": "*/30 * * * *",
        "claim_expiry": "0 9 * * *",
        "rebate_nudge": "0 10 * * *",
        "daily_digest": "30 8 * * *",
        "outbox_purge": "30 3 * * *",
    }

    @field_validator("jobs")
    @classmethod
    def _crons(cls, v: dict[str, str]) -> dict[str, str]:
        from apscheduler.triggers.cron import CronTrigger

        for name, cron in v.items():
            if cron and len(cron.split()) != 5:
                raise ValueError(f"{name}: expected a 5-field cron string like '0 9 * * *', or empty")
            if cron:
                minute, hour, day, month, dow = cron.split()
                try:  # field ranges only: weekday 7 is cron's Sunday, as 0
                    CronTrigger(minute=minute, hour=hour, day=day, month=month,
                                day_of_week=re.sub(r"\b7\b", "0", dow))
                except ValueError as exc:
                    raise ValueError(f"{name}: {cron!r} is not a valid cron string ({exc})") from None
        return v


class PricingSection(BaseModel):
    """Price deviations (乱价): how far below floor is tolerated, how deep is how bad, who hears repeats."""
    grace_pct: Decimal = Field(Decimal("0"), ge=0, lt=100)   # below floor by at most this % is not a deviation
    level_bands_pct: list[Decimal] = [Decimal("5"), Decimal("15")]  # gap < 5 % → level 1, < 15 % → 2, else 3
    repeat_count: int = Field(3, gt=0)          # this many deviations of one partner within the window …
    repeat_window_days: int = Field(30, gt=0)   # … raise the level by one and notify head office
    head_office: str = ""   # CHANNEL:ADDRESS of head office's group; empty: every admin directly

    @field_validator("level_bands_pct")
    @classmethod
    def _bands(cls, v: list[Decimal]) -> list[Decimal]:
        if any(b <= 0 for b in v) or v != sorted(set(v)):
            raise ValueError("must be increasing positive percentages, e.g. [5, 15]")
        return v

    @field_validator("head_office")
    @classmethod
    def _target(cls, v: str) -> str:
        return _check_target("head_office", v) if v else v


class RebatesSection(BaseModel):
    """The rebate_nudge job: in a scheme's last `nudge_last_days`, partners within `nudge_within_pct`
    of the next threshold hear how much more they need and what it would earn."""
    nudge_last_days: int = Field(15, gt=0)
    nudge_within_pct: Decimal = Field(Decimal("20"), gt=0, le=100)


class ApiSection(BaseModel):
    keys: list[str] = []
    max_body_bytes: int = Field(1_048_576, gt=0)
    max_upload_bytes: int = Field(20_971_520, gt=0)   # a file uploaded through an /import link


class Settings(BaseSettings):
    """Every configuration key; see config.example.toml."""

    model_config = SettingsConfigDict(env_prefix="PARTNERBOT_", env_nested_delimiter="__", extra="forbid")

    app: AppSection = AppSection()
    database: DatabaseSection = DatabaseSection()
    wechat: WechatSection = WechatSection()
    wecom: WecomSection = WecomSection()
    telegram: TelegramSection = TelegramSection()
    dispatcher: DispatcherSection = DispatcherSection()
    scheduler: SchedulerSection = SchedulerSection()
    api: ApiSection = ApiSection()
    pricing: PricingSection = PricingSection()
    rebates: RebatesSection = RebatesSection()
    groups: dict[str, str] = {}

    @field_validator("groups")
    @classmethod
    def _groups(cls, v: dict[str, str]) -> dict[str, str]:
        for region, target in v.items():
            _check_target(repr(region), target)
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.app.timezone)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (init_settings, _DatabaseUrlSource(settings_cls), env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field, field_name):  # pragma: no cover - unused, __call__ does it all
        return None, field_name, False

    def __call__(self) -> dict:
        path = os.environ.get("PARTNERBOT_CONFIG")
        if not path:
            return {}
        try:
            return tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"PARTNERBOT_CONFIG: file {path} not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"PARTNERBOT_CONFIG: {path} is not valid TOML: {exc}") from exc


class _DatabaseUrlSource(PydanticBaseSettingsSource):
    """`PARTNERBOT_DATABASE_URL` is the documented short form of `PARTNERBOT_DATABASE__URL`."""

    def get_field_value(self, field, field_name):  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict:
        url = os.environ.get("PARTNERBOT_DATABASE_URL")
        if not url:
            return {}
        nested = {k.removeprefix("PARTNERBOT_DATABASE__").lower(): v for k, v in os.environ.items()
                  if k.startswith("PARTNERBOT_DATABASE__")}
        return {"database": {**nested, "url": url}}


def load_settings(**overrides) -> Settings:
    """Reads the configuration; raises ConfigError naming the first bad key."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"invalid configuration key {key}: {err['msg']}") from exc
