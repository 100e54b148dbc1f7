"""``loads_bounded``'s refusal text reads as one sentence (issue 12 review 2 item 9): json's own
messages that end in "at" ("Invalid control character at") were followed by our "at line ...":
"Invalid control character at at line 1 column 13"."""

from __future__ import annotations

import pytest

from bot.safety import PayloadRejected, loads_bounded

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"id": "ab\x01c"}', "not JSON: Invalid control character at line 1 column 11"),
        ('{"id": "abc', "not JSON: Unterminated string starting at line 1 column 8"),
        ('{"a" 1}', "not JSON: Expecting ':' delimiter at line 1 column 6"),
        (b'{"a": 1,\n "b" }', "not JSON: Expecting ':' delimiter at line 2 column 6"),
    ],
)
def test_not_json_names_the_place_once(raw: str | bytes, message: str) -> None:
    """Each reason is followed by exactly one "at line L column C"."""
    with pytest.raises(PayloadRejected) as refused:
        loads_bounded(raw)
    assert str(refused.value) == message
    assert " at at " not in str(refused.value)
