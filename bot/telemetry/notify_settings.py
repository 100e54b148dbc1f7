"""The ``alerts`` config section: where alerts to people go (apprise URLs) and how often.

Notification URLs carry secrets (bot tokens, webhook keys), so they never live in the file:
``urls`` is read from ``HEDGEBOT_ALERTS__URLS`` (a JSON list) and each ``targets`` entry
names the environment variable holding its URL (``url_env``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bot.errors import ConfigError

__all__ = [
    "DEFAULT_MIN_SEVERITY",
    "SEVERITY_RANK",
    "AlertTarget",
    "AlertsSettings",
    "ResolvedTarget",
    "Severity",
]

Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
# clears (risk.*.cleared, range.entered, position.readable) and the daily summary are info: a
# receiver set up as documented gets each trip *and* its clear; raise it per target to filter
DEFAULT_MIN_SEVERITY: Severity = "info"
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class AlertTarget(BaseModel):
    """One notification service: the env variable holding its apprise URL and the least
    severe alert it receives (default ``info``: every trip, its clear and the summary)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    min_severity: Severity = DEFAULT_MIN_SEVERITY


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A target with its URL read from the environment (a secret: show ``mask_url``)."""

    url: str
    min_severity: Severity


class AlertsSettings(BaseModel):
    """Alerts to people through apprise (Telegram, Discord, Slack, e-mail, ntfy, ``json://``
    webhooks …): a severity filter per URL, a rate limit per alert kind, a bounded queue per
    URL and an optional daily summary at ``daily_summary_utc`` (``HH:MM``, UTC)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    urls: list[SecretStr] = Field(default_factory=list)  # env only: HEDGEBOT_ALERTS__URLS
    min_severity: Severity = DEFAULT_MIN_SEVERITY  # for ``urls``
    targets: list[AlertTarget] = Field(default_factory=list)
    rate_limit_s: Annotated[float, Field(ge=0, le=86_400)] = 300.0  # per alert kind and subject
    queue_size: Annotated[int, Field(ge=1, le=10_000)] = 100  # per URL; oldest dropped
    send_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    max_in_flight: Annotated[int, Field(ge=1, le=16)] = 2  # concurrent sends per URL
    daily_summary_utc: Annotated[str, Field(pattern=_HHMM.pattern)] | None = None

    def summary_time(self) -> time | None:
        """``daily_summary_utc`` as a time of day (UTC), or None."""
        if self.daily_summary_utc is None:
            return None
        hours, minutes = self.daily_summary_utc.split(":")
        return time(int(hours), int(minutes))

    def resolve(self, environ: Mapping[str, str]) -> list[ResolvedTarget]:
        """Every configured URL with its severity filter; ``ConfigError`` naming the entry
        when a ``urls`` entry is blank (``HEDGEBOT_ALERTS__URLS='[""]'``: an unset shell
        variable, which would leave alerts silently off) or a ``url_env`` is unset or empty
        (its value is never shown)."""
        resolved = []
        missing = []
        for index, secret in enumerate(self.urls):
            url = secret.get_secret_value().strip()
            if not url:
                missing.append(
                    f"alerts.urls.{index}: blank (entry {index} of HEDGEBOT_ALERTS__URLS; an "
                    "unset shell variable?)"
                )
                continue
            resolved.append(ResolvedTarget(url, self.min_severity))
        for index, target in enumerate(self.targets):
            url = environ.get(target.url_env, "").strip()
            if not url:
                missing.append(f"alerts.targets.{index}.url_env: {target.url_env} is not set")
                continue
            resolved.append(ResolvedTarget(url, target.min_severity))
        if missing:
            raise ConfigError("\n".join(missing))
        return resolved
