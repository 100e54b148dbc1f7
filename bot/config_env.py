"""Config mistakes in the environment (``HEDGEBOT_<SECTION>__<FIELD>``), said in one line.

pydantic-settings parses a list, mapping or section given in an environment variable as
JSON before validating anything, and a value that is no JSON raises ``SettingsError`` naming
only the top-level section (``error parsing value for field "alerts" from source
"EnvSettingsSource"``). :func:`env_source_problems` finds the variable(s) at fault and says
what they must look like, never echoing a value (it may be a secret URL).
"""

from __future__ import annotations

import json
import os
import re
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError

__all__ = ["env_source_problems", "validated"]

_Model = TypeVar("_Model", bound=BaseModel)

_FIELD = re.compile(r'field "([^"]+)"')
_COMPLEX = (list, tuple, set, frozenset, dict)


def _is_complex(annotation: Any) -> bool:
    """Whether pydantic-settings reads this annotation from the environment as JSON."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_is_complex(arg) for arg in get_args(annotation) if arg is not type(None))
    if origin is Annotated:
        return _is_complex(get_args(annotation)[0])
    if origin in _COMPLEX or annotation in _COMPLEX:
        return True
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _annotation(model: type[BaseModel], path: list[str]) -> Any:
    """The annotation at ``path`` (lower-case field names) under ``model``; None: no field."""
    annotation: Any = model
    for name in path:
        models = [
            a
            for a in (annotation, *get_args(annotation))
            if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        fields = {k.lower(): f for m in models for k, f in m.model_fields.items()}
        if name not in fields:
            return None
        annotation = fields[name].annotation
    return annotation


def env_source_problems(
    exc: SettingsError,
    model: type[BaseModel],
    environ: Mapping[str, str],
    prefix: str = "HEDGEBOT_",
    delimiter: str = "__",
) -> list[str]:
    """One line per environment variable under the section ``exc`` names whose value must be
    JSON (a list, mapping or section) and is not, e.g. ``HEDGEBOT_ALERTS__URLS: not JSON
    (Expecting value at char 0): a list is written '["a", "b"]'``; the section's own line
    when no variable can be singled out. Values are never shown."""
    found = _FIELD.search(str(exc))
    section = found.group(1) if found else None
    head = f"{prefix}{section or ''}".upper()
    lines = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(head) or (section and upper[len(head) :][:2] not in ("", "__")):
            continue
        path = [part.lower() for part in upper[len(prefix) :].split(delimiter)]
        annotation = _annotation(model, path)
        if annotation is None or not _is_complex(annotation):
            continue
        try:
            json.loads(environ[name])
        except ValueError as err:
            reason = err.msg if isinstance(err, json.JSONDecodeError) else "unparsable"
            lines.append(
                f"{name}: not JSON ({reason} at char {getattr(err, 'pos', 0)}): a list is "
                'written \'["a", "b"]\', a mapping or section \'{"key": "value"}\''
            )
    if lines:
        return lines
    where = f"{prefix}{section.upper()}…" if section else "an environment variable"
    return [f"{where}: unreadable ({exc}): lists and sections must be JSON"]


def validated(
    model: type[_Model],
    data: Mapping[str, Any],
    describe: Callable[[ValidationError], Iterable[str]],
) -> tuple[_Model | None, list[str]]:
    """``model(**data)`` (environment overrides included) and no problems, or None and one
    line per problem: ``describe``'s lines for a ``ValidationError``, the variables at fault
    (:func:`env_source_problems`) when the environment cannot even be parsed."""
    try:
        return model(**data), []
    except ValidationError as exc:
        return None, list(describe(exc))
    except SettingsError as exc:
        return None, env_source_problems(exc, model, os.environ)
