"""No secret part of a notification URL reaches a log line, for every apprise scheme the
docs mention and the common ones (issue 18 review 2 item 2: ``ntfy://my-secret-topic`` was
shown whole, its host being the topic)."""

from __future__ import annotations

import pytest

from bot.telemetry.notify import mask_notify_url

pytestmark = pytest.mark.unit

# (url, its secret parts, the masked form)
CASES: list[tuple[str, tuple[str, ...], str]] = [
    ("ntfy://my-secret-topic", ("my-secret-topic",), "ntfy://…"),
    ("ntfy://my-secret-topic/", ("my-secret-topic",), "ntfy://…"),
    ("ntfys://my-secret-topic?priority=high", ("my-secret-topic",), "ntfys://…"),
    ("NTFY://My-Secret-Topic", ("my-secret-topic", "My-Secret-Topic"), "ntfy://…"),
    ("ntfy://ntfy.example.org/secret-topic", ("secret-topic",), "ntfy://ntfy.example.org/…"),
    (
        "ntfys://user:s3cretpw@ntfy.example.org:8443/secret-topic?auth=tk-9",
        ("user", "s3cretpw", "secret-topic", "tk-9"),
        "ntfys://ntfy.example.org:8443/…",
    ),
    ("tgram://123456:AAbot-token/987654", ("123456", "AAbot-token", "987654"), "tgram://…"),
    (
        "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV",
        ("4174216298", "JHMHI8qBe7bk"),
        "discord://…",
    ),
    (
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
        ("T1JJ3T3L2", "TIiajk"),
        "slack://…",
    ),
    (
        "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
        ("T1JJ3T3L2", "A1BRTD4JD", "TIiajk"),
        "https://hooks.slack.com/…",
    ),
    (
        "https://discord.com/api/webhooks/4174216298/JHMHI8qBe7bk2ZwO5U711o3dV",
        ("4174216298", "JHMHI8qBe7bk"),
        "https://discord.com/…",
    ),
    ("mailto://alice:mail-pw-77@gmail.com", ("alice", "mail-pw-77"), "mailto://…"),
    (
        "mailtos://alice:mail-pw-77@smtp.example.org:465?to=bob@example.org",
        ("alice", "mail-pw-77", "bob"),
        "mailtos://…",
    ),
    (
        "json://hook-user:hook-pw@10.0.0.5:8080/path-tok?token=q-tok",
        ("hook-user", "hook-pw", "path-tok", "q-tok"),
        "json://10.0.0.5:8080/…",
    ),
    (
        "jsons://hooks.example.org/a/b?apikey=q-tok",
        ("q-tok", "/a/b"),
        "jsons://hooks.example.org/…",
    ),
    (
        "form://u:form-pw@hooks.example.org/f-tok",
        ("form-pw", "f-tok"),
        "form://hooks.example.org/…",
    ),
    (
        "xml://u:xml-pw@hooks.example.org?key=x-tok",
        ("xml-pw", "x-tok"),
        "xml://hooks.example.org/…",
    ),
    ("gotify://gotify.example.org/AbCgotifyToken", ("AbCgotifyToken",), "gotify://…"),
    ("matrix://bot:matrix-pw@matrix.example.org/#room", ("matrix-pw", "bot"), "matrix://…"),
    ("pover://uKey123user@aTok456app", ("uKey123user", "aTok456app"), "pover://…"),
    ("not a url with-secret", ("with-secret",), "<url>"),
    ("json://[::1:bad/x-secret", ("x-secret",), "<url>"),
]


@pytest.mark.parametrize(("url", "secrets", "masked"), CASES, ids=[c[2] + c[0][:12] for c in CASES])
def test_no_secret_part_of_a_notification_url_is_shown(
    url: str, secrets: tuple[str, ...], masked: str
) -> None:
    """The masked form is scheme (+ server host and port) only; no secret part appears."""
    shown = mask_notify_url(url)
    assert shown == masked
    for secret in secrets:
        assert secret not in shown
