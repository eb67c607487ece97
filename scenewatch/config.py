"""The configuration tree.

One validated pydantic tree with ``extra="forbid"`` everywhere. Values come, lowest to
highest priority, from defaults, a YAML/TOML file, environment variables
(``SCENEWATCH_PERCEPTION__ASR__MODEL=base``; ``SCENEWATCH_DB`` for the store path) and
CLI flags. Errors become one :class:`~scenewatch.errors.ConfigError` line naming the key.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from scenewatch._settings_base import Section
from scenewatch.api.settings import ServeSettings
from scenewatch.errors import ConfigError
from scenewatch.ingest.settings import IngestSettings
from scenewatch.memory.settings import StoreSettings
from scenewatch.perception.settings import PerceptionSettings
from scenewatch.reasoning.settings import ReasonerSettings
from scenewatch.runtime.cluster_settings import ClusterSettings
from scenewatch.triggers.settings import TriggerSettings

# Values of the config file being loaded; set only inside load_config.
_FILE_DATA: dict[str, Any] = {}


class RuntimeSettings(Section):
    """Threads and queues of the pipeline runner."""

    queue_size: int = Field(32, ge=1, le=4096, description="items buffered between decode and stages")
    drop_when_behind: bool | None = Field(
        None, description="drop keyframes when stages fall behind (None: only for live sources)")


class _FileSource(PydanticBaseSettingsSource):
    """Feeds values read from a YAML/TOML file into pydantic-settings."""

    def __init__(self, settings_cls: type[BaseSettings], data: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = dict(data)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


class Config(BaseSettings):
    """The whole scenewatch configuration."""

    model_config = SettingsConfigDict(
        env_prefix="SCENEWATCH_", env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    sources: list[str] = Field(default_factory=list, description="files, folders, URLs or devices")
    concepts: list[str] = Field(default_factory=list, description="what to watch for, in plain words")
    ingest: IngestSettings = IngestSettings()
    perception: PerceptionSettings = PerceptionSettings()
    store: StoreSettings = StoreSettings()
    reasoner: ReasonerSettings = ReasonerSettings()
    triggers: TriggerSettings = TriggerSettings()
    runtime: RuntimeSettings = RuntimeSettings()
    serve: ServeSettings = ServeSettings()
    cluster: ClusterSettings = ClusterSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _FileSource(settings_cls, _FILE_DATA)


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) config file into a dict."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix.lower() in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"config file must be .yaml, .yml or .toml: {path}")
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ConfigError(f"cannot parse {path}: {str(exc).splitlines()[0]}") from exc
    except Exception as exc:  # yaml.YAMLError has no common base we can import lazily
        if type(exc).__module__.startswith("yaml"):
            raise ConfigError(f"cannot parse {path}: {str(exc).splitlines()[0]}") from exc
        raise
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return data


def format_validation_error(exc: ValidationError, model: type[Any] = Config) -> str:
    """Turn a pydantic error into one line naming the key and what is allowed."""
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(root)"
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, [str(p) for p in err["loc"][:-1]])
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        msg = f"config: unknown key {key!r}{hint}"
    else:
        got = err.get("input")
        got_s = "" if isinstance(got, dict | list) else f" (got {got!r})"
        msg = f"config: {key}: {err['msg']}{got_s}"
    more = len(exc.errors()) - 1
    return msg + (f" (+{more} more)" if more > 0 else "")


def format_settings_error(exc: SettingsError) -> str:
    """One line naming the environment variable whose value could not be parsed, and why."""
    field = re.search(r'field "([^"]+)"', str(exc))
    prefix = f"SCENEWATCH_{field[1].upper()}" if field else "SCENEWATCH_"
    why = str(exc.__cause__ or exc).splitlines()[0]
    for name, value in sorted(os.environ.items()):
        if not name.upper().startswith(prefix) or not value.strip().startswith(("[", "{")):
            continue
        try:
            json.loads(value)
        except ValueError as bad:
            why = str(bad).splitlines()[0]
            return (f"config: environment variable {name}={value!r} is not valid JSON ({why}); "
                    f"write lists as JSON, e.g. {name}='[\"scene\", \"speech\"]'")
    return f"config: cannot read the environment{' for ' + field[1] if field else ''}: {why}"


def _allowed_keys(model: type[Any], path: list[str]) -> list[str]:
    current: Any = model
    for part in path:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = field.annotation
    return sorted(getattr(current, "model_fields", {}))


def load_config(path: Path | str | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Build the config from defaults, an optional file, env vars and CLI overrides.

    Args:
        path: a YAML/TOML file; ``SCENEWATCH_CONFIG`` is used when ``None``.
        overrides: nested values from CLI flags (highest priority).

    Raises:
        ConfigError: with one line naming the bad key.
    """
    if path is None and os.environ.get("SCENEWATCH_CONFIG"):
        path = os.environ["SCENEWATCH_CONFIG"]
    file_data = read_config_file(Path(path)) if path is not None else {}
    init: dict[str, Any] = {}
    if os.environ.get("SCENEWATCH_DB"):
        init["store"] = {"path": os.environ["SCENEWATCH_DB"]}
    for key, value in (overrides or {}).items():
        if isinstance(value, Mapping) and isinstance(init.get(key), dict):
            init[key] = {**init[key], **value}
        else:
            init[key] = value
    _FILE_DATA.clear()
    _FILE_DATA.update(file_data)
    try:
        return Config(**init)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    except SettingsError as exc:  # an environment value that is not valid JSON for a list/mapping
        raise ConfigError(format_settings_error(exc)) from None
    finally:
        _FILE_DATA.clear()
