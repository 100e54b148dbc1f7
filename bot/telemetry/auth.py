"""Operator authentication of commands, acks and the retained state: HMAC-SHA256 with a key from
the environment.

Scheme (docs/mqtt.md, "Signing"): ``sig`` is the lowercase hex HMAC-SHA256, keyed with the UTF-8
bytes of ``HEDGEBOT_OPERATOR_KEY``, of ``<topic> "\\n" <canonical JSON>``, where the canonical
JSON is the message object without its ``sig`` field, serialised with sorted keys, no
whitespace and ASCII escapes (``json.dumps(obj, sort_keys=True, separators=(",", ":"))``).
The topic binds a command to one bot (``<prefix>/<bot>/cmd``), an ack to its answer topic
(``.../cmd/ack``) and the bot's retained state to its ``.../state`` (the evidence a second
start believes, ``bot.telemetry.peers``), so none can be replayed elsewhere. The key never
leaves the process: it is read from the environment only and never logged or printed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from bot.errors import ConfigError

__all__ = [
    "MIN_KEY_CHARS",
    "OPERATOR_KEY_ENV",
    "PLACEHOLDER_PREFIX",
    "OperatorKey",
    "canonical_json",
    "operator_key_from_env",
]

OPERATOR_KEY_ENV = "HEDGEBOT_OPERATOR_KEY"
MIN_KEY_CHARS = 32
# the examples' secret values (deploy/k8s Secrets) begin so; such a key is public, not secret
PLACEHOLDER_PREFIX = "replace-with-"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def canonical_json(message: Mapping[str, Any]) -> bytes:
    """``message`` without ``sig`` as canonical JSON bytes (sorted keys, compact, ASCII).

    Raises ``ValueError``/``TypeError`` for what JSON cannot express (callers treat it as a
    bad message).
    """
    body = {key: value for key, value in message.items() if key != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


class OperatorKey:
    """The shared secret that signs commands (operator), acks and retained states (bot).
    ``repr`` hides it."""

    __slots__ = ("_secret",)

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_KEY_CHARS:
            raise ConfigError(
                f"{OPERATOR_KEY_ENV} must be at least {MIN_KEY_CHARS} characters; generate one "
                'with: python -c "import secrets; print(secrets.token_hex(32))"'
            )
        if secret.startswith(PLACEHOLDER_PREFIX):
            raise ConfigError(
                f"{OPERATOR_KEY_ENV} is the example's placeholder ({PLACEHOLDER_PREFIX}...), "
                "known to anyone: set your own key in the Secret or .env"
            )
        self._secret = secret.encode("utf-8", "surrogatepass")

    def __repr__(self) -> str:
        return "OperatorKey(***)"

    def sign(self, topic: str, message: Mapping[str, Any]) -> str:
        """Hex HMAC-SHA256 of ``topic`` + newline + ``canonical_json(message)``."""
        signed = topic.encode("utf-8", "surrogatepass") + b"\n" + canonical_json(message)
        return hmac.new(self._secret, signed, hashlib.sha256).hexdigest()

    def verify(self, topic: str, message: Mapping[str, Any]) -> bool:
        """Whether ``message["sig"]`` is this key's signature of ``message`` on ``topic``."""
        sig = message.get("sig")
        if not isinstance(sig, str) or not _HEX_DIGEST.fullmatch(sig):
            return False
        try:
            expected = self.sign(topic, message)
        except (TypeError, ValueError, RecursionError):
            return False
        return hmac.compare_digest(expected, sig)

    def signed(self, topic: str, message: Mapping[str, Any]) -> dict[str, Any]:
        """``message`` with its ``sig`` added."""
        return {**message, "sig": self.sign(topic, message)}


def operator_key_from_env(environ: Mapping[str, str]) -> OperatorKey | None:
    """The operator key from ``HEDGEBOT_OPERATOR_KEY``; None when unset or empty.

    Raises ``ConfigError`` when it is set but shorter than ``MIN_KEY_CHARS`` or is an
    example's placeholder (begins ``replace-with-``).
    """
    secret = environ.get(OPERATOR_KEY_ENV, "")
    return OperatorKey(secret) if secret else None
