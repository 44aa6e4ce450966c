"""The settings layer every program of the project shares (operator, web UI, stages), on pydantic-settings.

A program's settings are a subclass of :class:`DubbingSettings`: a frozen model whose fields carry
their environment variable, their description and their parser, read once at start by
:meth:`DubbingSettings.from_env`. The rules (docs/settings.md repeats them for operators):

* A field ``name`` is read from ``DUBBING_<NAME>`` unless :func:`setting` names its variable(s)
  (``env=``); with several, the first one set wins. ``env=()``: not read from the environment.
* An empty value counts as unset: the default applies.
* ``X_FILE``: a setting ``X`` may come instead from the file named by ``X_FILE`` (a mounted Secret);
  surrounding whitespace is stripped and an empty file counts as unset. **When both are set, ``X``
  wins.** An ``X_FILE`` naming no readable file is an error.
* Booleans (:data:`Bool`): ``1``, ``true``, ``yes``, ``on`` / ``0``, ``false``, ``no``, ``off``
  (any case); anything else is an error.
* Durations (:data:`Seconds`, :data:`WholeSeconds`): seconds, as a number (``30``, ``0.5``) or
  with units ``ms``, ``s``, ``m``, ``h``, ``d`` (``30s``, ``5m``, ``1h30m``).
* JSON values (:data:`FromJson`): parsed, then checked against the field's type.
* The S3 endpoint (:func:`parse_s3_endpoint`): ``host[:port]`` or ``http(s)://host[:port]``; TLS is
  on when the scheme is ``https`` or the secure flag (``DUBBING_S3_SECURE``) is true, and a scheme
  that contradicts an explicit flag is an error.
* An invalid value raises :class:`SettingsError`, one line per variable, naming it: programs call
  ``from_env`` at start and stop there.

Constructing a settings class directly (``Settings(resync_seconds=1)``) reads no environment: the
defaults plus the values given, as tests want; validation and parsers apply the same way.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "DUBBING_"
FILE_SUFFIX = "_FILE"
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """Invalid settings; the message names each offending variable."""


# ------------------------------------------------------------------------------------- parsers


def parse_bool(value: object) -> bool:
    """``1 true yes on`` -> True, ``0 false no off`` -> False (any case, surrounding blanks ignored)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError(f"expected a boolean: {'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)}")


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PLAIN = re.compile(rf"[-+]?{_NUMBER}(?:[eE][-+]?\d+)?")
_PART = re.compile(rf"({_NUMBER})(ms|s|m|h|d)")
_WITH_UNITS = re.compile(rf"([-+]?)((?:{_NUMBER}(?:ms|s|m|h|d))+)")


def parse_duration(value: object) -> float:
    """Seconds from a number (``30``, ``0.5``, ``-1``) or a duration with units (``30s``, ``5m``, ``1h30m``, ``250ms``)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration, not a boolean")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if _PLAIN.fullmatch(text):
            seconds = float(text)
        elif match := _WITH_UNITS.fullmatch(text):
            seconds = sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(match.group(2)))
            if match.group(1) == "-":
                seconds = -seconds
        else:
            raise ValueError("expected a duration: seconds (30, 0.5) or with units ms, s, m, h, d (30s, 5m, 1h30m)")
    else:
        raise ValueError("expected a duration")
    if not math.isfinite(seconds):
        raise ValueError("expected a finite duration")
    return seconds


def parse_whole_seconds(value: object) -> int:
    """A duration (:func:`parse_duration`) that must be a whole number of seconds."""
    seconds = parse_duration(value)
    if seconds != int(seconds):
        raise ValueError(f"expected a whole number of seconds, got {seconds:g} s")
    return int(seconds)


def parse_json(value: object) -> object:
    """JSON text -> its value; anything else (a value given in Python) is passed on as it is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as error:
        raise ValueError(f"not valid JSON: {error}") from None


def parse_s3_endpoint(value: str, secure: bool | None = None, secure_name: str = "the secure flag") -> tuple[str, bool]:
    """``host[:port]`` or ``http(s)://host[:port][/]`` and the secure flag (None: not given) -> (``host[:port]``, secure).

    TLS is on when the scheme is ``https`` or the flag is true; without either it is off. A scheme
    that contradicts a given flag is an error, and so is a path, a query or a bad port.
    """
    raw = value.strip()
    scheme, sep, rest = raw.partition("://")
    scheme_secure: bool | None = None
    if sep:
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"scheme must be http:// or https://, not {scheme}://")
        scheme_secure = scheme == "https"
    else:
        rest = raw
    rest = rest.rstrip("/")
    if not rest:
        raise ValueError("no host: expected host[:port] or http(s)://host[:port]")
    if any(c in rest for c in "/?#@ "):
        raise ValueError("expected host[:port] or http(s)://host[:port] (no path, query, user or blanks)")
    try:
        parts = urlsplit(f"//{rest}")
        port = parts.port
    except ValueError as error:
        raise ValueError(f"bad host or port: {error}") from None
    if not parts.hostname or (port is not None and not 0 < port < 65536):
        raise ValueError("expected host[:port] with a port from 1 to 65535")
    if scheme_secure is not None and secure is not None and scheme_secure != secure:
        raise ValueError(f"the {scheme}:// scheme contradicts {secure_name}={'true' if secure else 'false'}")
    return rest, bool(secure if secure is not None else scheme_secure)


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IPV4 = re.compile(r"\d+\.\d+\.\d+\.\d+")


def check_bucket_name(name: str) -> str:
    """An S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with
    a letter or digit, no two adjacent dots, not an IP address."""
    if not _BUCKET.fullmatch(name) or ".." in name or _IPV4.fullmatch(name) or ".-" in name or "-." in name:
        raise ValueError(
            f"{name!r} is not a valid S3 bucket name (3-63 lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit)"
        )
    return name


def parse_list(value: object) -> object:
    """``a, b,c`` -> ``("a", "b", "c")`` (blank items dropped); anything else is passed on."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def strip_trailing_slash(value: object) -> object:
    """A URL without its trailing ``/`` (an empty one is unset)."""
    if isinstance(value, str):
        return value.rstrip("/") or None
    return value


#: A boolean: ``1 true yes on`` / ``0 false no off``.
Bool = Annotated[bool, BeforeValidator(parse_bool)]
#: Seconds, from a number or a duration with units.
Seconds = Annotated[float, BeforeValidator(parse_duration)]
#: A whole number of seconds, from a number or a duration with units.
WholeSeconds = Annotated[int, BeforeValidator(parse_whole_seconds)]
#: Put in ``Annotated[T, FromJson]``: the value is JSON text, checked as a ``T``.
FromJson = BeforeValidator(parse_json)
#: ``a,b,c`` as a tuple of strings.
CommaList = Annotated[tuple[str, ...], BeforeValidator(parse_list)]
#: An S3 bucket name.
BucketName = Annotated[str, AfterValidator(check_bucket_name)]
#: A URL whose trailing ``/`` is dropped (an empty one is unset).
BaseUrl = Annotated[str, BeforeValidator(strip_trailing_slash)]


# ------------------------------------------------------------------------------------- fields


def setting(
    default: Any = PydanticUndefined,
    description: str = "",
    *,
    env: str | Sequence[str] | None = None,
    secret: bool = False,
    default_factory: Callable[[], Any] | None = None,
    doc_type: str | None = None,
    doc_default: str | None = None,
    **constraints: Any,
) -> Any:
    """A settings field: its default, description (docs/settings.md shows it), environment
    variable(s) (default ``DUBBING_<NAME>``; ``()``: none), whether it is a secret (never echoed in
    errors, hidden from repr), and how the docs show its type and default when the model cannot say."""
    extra: dict[str, Any] = {}
    if env is not None:
        extra["env"] = [env] if isinstance(env, str) else list(env)
    if secret:
        extra["secret"] = True
    if doc_type is not None:
        extra["doc_type"] = doc_type
    if doc_default is not None:
        extra["doc_default"] = doc_default
    if default_factory is not None:
        return Field(
            default_factory=default_factory,
            description=description,
            json_schema_extra=extra,
            repr=not secret,
            **constraints,
        )
    return Field(default, description=description, json_schema_extra=extra, repr=not secret, **constraints)


def _extra(field: FieldInfo) -> dict[str, Any]:
    extra = field.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def env_names(settings_cls: type[BaseSettings], field_name: str) -> tuple[str, ...]:
    """The variables a field is read from, in order (empty: not from the environment)."""
    field = settings_cls.model_fields[field_name]
    names = _extra(field).get("env")
    if names is not None:
        return tuple(names)
    prefix = settings_cls.model_config.get("env_prefix") or ""
    return (f"{prefix}{field_name.upper()}",)


def is_secret(field: FieldInfo) -> bool:
    return bool(_extra(field).get("secret"))


# ------------------------------------------------------------------------------------- source

#: The environment ``from_env`` reads (None: direct construction, no environment).
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("dubbing_settings_environ", default=None)
#: field name -> the variable its value came from, for the error messages.
_FOUND: ContextVar[dict[str, str] | None] = ContextVar("dubbing_settings_found", default=None)
#: Errors of model-level checks, reported by from_env together with the fields' own.
_PENDING: ContextVar[list[str] | None] = ContextVar("dubbing_settings_pending", default=None)


def lookup(environ: Mapping[str, str], names: Sequence[str]) -> tuple[str, str] | None:
    """(variable, value) of the first of ``names`` set, each tried as ``X`` then ``X_FILE``; None if none is."""
    for name in names:
        value = environ.get(name)
        if value:
            return name, value
        path = environ.get(name + FILE_SUFFIX)
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as error:
                reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
                raise SettingsError(f"{name}{FILE_SUFFIX}={path!r}: cannot read the file: {reason}") from None
            if text:
                return name + FILE_SUFFIX, text
    return None


class EnvironSource(PydanticBaseSettingsSource):
    """Each field's raw text from the environment ``from_env`` was given (variables, then ``_FILE``s)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        environ = _ENVIRON.get()
        hit = lookup(environ, env_names(self.settings_cls, field_name)) if environ is not None else None
        return (hit[1] if hit else None), field_name, False

    def __call__(self) -> dict[str, Any]:
        environ = _ENVIRON.get()
        if environ is None:
            return {}
        found = _FOUND.get()
        values: dict[str, Any] = {}
        for name in self.settings_cls.model_fields:
            hit = lookup(environ, env_names(self.settings_cls, name))
            if hit is not None:
                values[name] = hit[1]
                if found is not None:
                    found[name] = hit[0]
        return values


@contextmanager
def _reading(environ: Mapping[str, str], found: dict[str, str], pending: list[str]) -> Iterator[None]:
    tokens = (_ENVIRON.set(environ), _FOUND.set(found), _PENDING.set(pending))
    try:
        yield
    finally:
        _PENDING.reset(tokens[2])
        _FOUND.reset(tokens[1])
        _ENVIRON.reset(tokens[0])


# ------------------------------------------------------------------------------------- the base


class DubbingSettings(BaseSettings):
    """Base of every program's settings: see the module's docstring for the rules."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid", validate_default=True)

    #: (endpoint field, secure field) parsed together by :func:`parse_s3_endpoint`, if the program talks to S3.
    s3_fields: ClassVar[tuple[str, str] | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Values given in Python first, then the environment given to from_env (none otherwise);
        # no .env files, no secrets directory: _FILE variables name each file.
        return init_settings, EnvironSource(settings_cls)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """The settings from ``env`` (default: the process environment); :class:`SettingsError` naming
        each invalid variable otherwise."""
        environ = os.environ if env is None else env
        found: dict[str, str] = {}
        pending: list[str] = []
        try:
            with _reading(environ, found, pending):
                settings = cls()
        except ValidationError as error:
            raise SettingsError(cls._explain(error, found, environ, pending)) from None
        if pending:
            raise SettingsError(cls._title() + "\n  ".join(pending))
        return settings

    @classmethod
    def env_var(cls, field_name: str) -> str:
        """The variable a field was read from in the current ``from_env``, else its first variable."""
        found = _FOUND.get() or {}
        names = env_names(cls, field_name)
        return found.get(field_name) or (names[0] if names else field_name)

    @classmethod
    def _title(cls) -> str:
        return f"invalid settings ({cls.__module__}.{cls.__qualname__}):\n  "

    @classmethod
    def _explain(
        cls, error: ValidationError, found: Mapping[str, str], environ: Mapping[str, str], pending: Sequence[str]
    ) -> str:
        lines = list(pending)
        for item in error.errors():
            loc = item.get("loc", ())
            message = str(item["ctx"]["error"]) if item.get("type") == "value_error" and "ctx" in item else item["msg"]
            if not loc or loc[0] not in cls.model_fields:
                lines.append(message)
                continue
            name = str(loc[0])
            names = env_names(cls, name)
            var = found.get(name) or (names[0] if names else name)
            where = (" at " + "".join(f"[{part!r}]" for part in loc[1:])) if len(loc) > 1 else ""
            shown = ""
            if var in environ and not is_secret(cls.model_fields[name]):
                shown = f"={environ[var]!r}"
            lines.append(f"{var}{shown}{where}: {message}")
        return cls._title() + "\n  ".join(lines)

    @model_validator(mode="before")
    @classmethod
    def _parse_s3_endpoint(cls, data: Any) -> Any:
        """The endpoint and the secure flag, parsed together. An error is raised at once, or, within
        ``from_env``, kept for its report and the pair left at its defaults so that the other fields
        are still checked (each invalid variable is named in one go)."""
        if cls.s3_fields is None or not isinstance(data, dict):
            return data
        endpoint_field, secure_field = cls.s3_fields
        endpoint = data.get(endpoint_field, cls.model_fields[endpoint_field].default)
        secure = data.get(secure_field)
        try:
            if secure is not None:
                try:
                    secure = parse_bool(secure)
                except ValueError as error:
                    raise ValueError(f"{cls.env_var(secure_field)}={secure!r}: {error}") from None
            if not isinstance(endpoint, str) or not endpoint:
                return data
            try:
                host, tls = parse_s3_endpoint(endpoint, secure, cls.env_var(secure_field))
            except ValueError as error:
                raise ValueError(f"{cls.env_var(endpoint_field)}={endpoint!r}: {error}") from None
        except ValueError as error:
            pending = _PENDING.get()
            if pending is None:
                raise
            pending.append(str(error))
            return {key: value for key, value in data.items() if key not in (endpoint_field, secure_field)}
        return {**data, endpoint_field: host, secure_field: tls}
