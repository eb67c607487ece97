"""Settings of ``scenewatch serve``: where it listens, how it authenticates, what it publishes."""

from __future__ import annotations

from pydantic import Field, SecretStr

from scenewatch._settings_base import Section


class MqttSettings(Section):
    """MQTT publishing and Home Assistant discovery (off unless ``enabled``)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    prefix: str = Field("scenewatch", pattern=r"^[A-Za-z0-9_\-/]+$", description="topic prefix")
    discovery_prefix: str = Field("homeassistant", pattern=r"^[A-Za-z0-9_\-/]+$",
                                  description="Home Assistant discovery prefix")
    qos: int = Field(1, ge=0, le=2)
    poll_interval: float = Field(0.5, gt=0, le=60, description="seconds between store polls")
    base_url: str = Field("http://127.0.0.1:8976", description="URL put in snapshot links of event messages")


class ServeSettings(Section):
    """The HTTP server: bind address, auth, limits."""

    host: str = "127.0.0.1"
    port: int = Field(8976, ge=1, le=65535)
    auth: bool = Field(True, description="require login or an API token (binding beyond loopback needs it)")
    password: SecretStr | None = Field(None, description="admin password (default: generated on first start)")
    session_hours: float = Field(24.0, gt=0, le=24 * 90, description="how long a login session lasts")
    login_attempts: int = Field(5, ge=1, le=1000, description="failed logins allowed per client per window")
    login_window: float = Field(60.0, gt=0, description="seconds of the login rate-limit window")
    cors_origins: list[str] = Field(default_factory=list, description="allowed CORS origins (empty: CORS off)")
    max_page: int = Field(1000, ge=1, le=100000, description="largest page size a list route returns")
    max_clip_seconds: float = Field(300.0, gt=0, description="longest clip the media route cuts")
    max_upload_mb: float = Field(512.0, gt=0, description="largest media file POST /api/sources/upload accepts")
    mqtt: MqttSettings = MqttSettings()
