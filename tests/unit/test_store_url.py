"""``store.url``: no password anywhere in it, and ``check-config`` shows it without its query
string (issue 19 review, item 10)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.store.settings import StoreConfig, shown_store_url

pytestmark = pytest.mark.unit

BASE = "postgresql://hedgebot@db.internal:5432/hedgebot"


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("sslpassword=hunter2", "sslpassword"),
        ("password=hunter2", "password"),
        ("sslmode=verify-full&SSLPassword=x", "SSLPassword"),
        ("sslpassword=", "sslpassword"),  # even empty: the parameter is a secret's place
    ],
)
def test_a_password_like_query_parameter_is_refused_naming_it(query: str, named: str) -> None:
    """Any query parameter whose name holds 'password' (case-insensitive) is refused; the
    error names the parameter and never shows its value."""
    with pytest.raises(ValidationError) as caught:
        StoreConfig(url=f"{BASE}?{query}")
    (error,) = caught.value.errors()
    assert f"query parameter {named}" in error["msg"]  # what check-config prints
    assert "hunter2" not in error["msg"]


def test_other_query_parameters_pass() -> None:
    """sslmode and a key file path are not secrets: accepted."""
    url = f"{BASE}?sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem"
    assert StoreConfig(url=url).url == url


def test_shown_url_keeps_user_host_database_and_hides_the_query() -> None:
    """What an operator checks stays; the query string becomes '?…'."""
    assert shown_store_url(BASE) == BASE
    assert shown_store_url(f"{BASE}?sslmode=require&sslkey=/k.pem") == f"{BASE}?…"
    assert shown_store_url("postgres://db:5432/x") == "postgres://db:5432/x"
