"""The REST API's input: request bodies and queries read with bounds, then checked by
pure functions that turn them into the store's records and name the offending field.
Every problem is an ``ApiError`` carrying its HTTP status (rest.py answers with it)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import ClientDisconnect, Request

from printhost.config import DESKTOP
from printhost.routing.defaults import check_defaults
from printhost.store.base import (
    JobDefaults,
    UserPreferences,
)

#: Bodies are small JSON objects; anything bigger is refused with 413 before parsing.
MAX_BODY_BYTES = 64 * 1024
MAX_NAME = 255  # user names, locations
MAX_HOST = 253  # RFC 1035 §2.3.4: a domain name's text form
MAX_KEYWORD = 64  # sources, job default keywords
MAX_URI = 1024
JSON_TYPE = "application/json"


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


# --- reading requests (bounded) ---------------------------------------------------------------


async def read_object(request: Request, timeout: float) -> dict[str, Any]:
    """The request body as a JSON object: at most MAX_BODY_BYTES, each chunk within
    ``timeout`` seconds. Content-Type must say JSON (a browser cannot send that
    cross-site without a CORS preflight, which this API never grants)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != JSON_TYPE:
        raise ApiError(415, f"the body must be {JSON_TYPE}, not {kind[:60]!r}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes", _CLOSE)
    body = bytearray()
    chunks = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), timeout)
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise ApiError(408, f"request body stalled for {timeout:g} s", _CLOSE) from None
        except ClientDisconnect:
            raise ApiError(400, "client closed the connection mid-request", _CLOSE) from None
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes", _CLOSE)
    return parse_object(bytes(body))


_CLOSE = {"Connection": "close"}


def parse_object(data: bytes) -> dict[str, Any]:
    """Strict JSON (RFC 8259): UTF-8, no NaN/Infinity, no duplicate keys, an object at the
    top. Nesting is bounded by the size limit and the interpreter's recursion limit."""
    try:
        value = json.loads(
            data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant
        )
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"body is not valid JSON: {_short(str(exc))}") from None
    if not isinstance(value, dict):
        raise ApiError(400, f"body must be a JSON object, not {_json_kind(value)}")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in an object")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def query(request: Request, allowed: set[str]) -> dict[str, str]:
    params = request.query_params
    unknown = sorted(set(params.keys()) - allowed)
    if unknown:
        raise ApiError(400, f"unknown query parameter(s): {_names(unknown)}")
    return {key: params[key] for key in params}


# --- validation (pure) -------------------------------------------------------------------------


def check_fields(data: Mapping[str, Any], allowed: set[str], where: str = "") -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ApiError(
            400,
            f"{where}unknown field(s): {_names(unknown)} (allowed: {', '.join(sorted(allowed))})",
        )


def text(field: str, value: Any, *, max_len: int, empty: bool = True, spaces: bool = True) -> str:
    """A string without control characters or lone surrogates, at most ``max_len``."""
    if not isinstance(value, str):
        raise ApiError(400, f"{field}: expected a string, got {_json_kind(value)}")
    if not value and not empty:
        raise ApiError(400, f"{field}: must not be empty")
    if len(value) > max_len:
        raise ApiError(400, f"{field}: longer than {max_len} characters")
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cs") or (not spaces and char.isspace()):
            what = "control characters" if spaces else "spaces or control characters"
            raise ApiError(400, f"{field}: must not contain {what}")
    if value != value.strip():
        raise ApiError(400, f"{field}: must not start or end with white space")
    return value


def integer(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{field}: expected an integer, got {_json_kind(value)}")
    return value


def number(field: str, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f"{field}: expected a number, got {_json_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ApiError(400, f"{field}: must be finite")
    return value


def ipp_uri(field: str, value: Any) -> str:
    uri = text(field, value, max_len=MAX_URI, empty=False, spaces=False)
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ApiError(400, f"{field}: not a valid URI") from None
    if parts.scheme not in ("ipp", "ipps") or not parts.hostname:
        raise ApiError(400, f"{field}: must be ipp:// or ipps:// with a host")
    if parts.username is not None:
        raise ApiError(400, f"{field}: must not carry credentials")
    return uri


@dataclass(frozen=True, slots=True)
class PresenceReport:
    user: str
    host: str
    ttl_seconds: float
    source: str = ""
    agent_uri: str = ""
    location: str = ""


PRESENCE_FIELDS = {"user", "host", "ttl_seconds", "source", "agent_uri", "location"}


def parse_presence(data: Mapping[str, Any], max_ttl: float) -> PresenceReport:
    check_fields(data, PRESENCE_FIELDS)
    missing = [k for k in ("user", "host", "ttl_seconds") if k not in data]
    if missing:
        raise ApiError(400, f"missing field(s): {', '.join(missing)}")
    ttl = number("ttl_seconds", data["ttl_seconds"])
    if ttl <= 0:
        raise ApiError(400, "ttl_seconds: must be more than 0")
    return PresenceReport(
        user=text("user", data["user"], max_len=MAX_NAME, empty=False),
        host=host_name("host", data["host"]),
        ttl_seconds=float(min(ttl, max_ttl)),  # min first: a huge int has no float
        source=text("source", data.get("source", ""), max_len=MAX_KEYWORD),
        agent_uri=ipp_uri("agent_uri", data["agent_uri"]) if "agent_uri" in data else "",
        location=text("location", data.get("location", ""), max_len=MAX_NAME),
    )


def host_name(field: str, value: Any) -> str:
    """Workstation names compare case-insensitively (DNS, RFC 4343): kept in lower case."""
    return text(field, value, max_len=MAX_HOST, empty=False, spaces=False).lower()


PREFERENCE_FIELDS = {"destination", "defaults", "banner", "location"}
DEFAULT_FIELDS = {f.name for f in dataclasses.fields(JobDefaults)}


def parse_preferences(
    data: Mapping[str, Any], current: UserPreferences, is_destination: Callable[[str], bool]
) -> UserPreferences:
    """Apply a partial update: fields absent (also inside ``defaults``) keep their value."""
    check_fields(data, PREFERENCE_FIELDS)
    changes: dict[str, Any] = {}
    if "destination" in data:
        destination = text("destination", data["destination"], max_len=MAX_NAME)
        if destination not in ("", DESKTOP) and not is_destination(destination):
            raise ApiError(
                400,
                f"destination: no printer or pool named {_short(destination)!r} "
                f'(see GET /api/v1/destinations; "{DESKTOP}" = where you are logged in, '
                '"" = the default)',
            )
        changes["destination"] = destination
    if "defaults" in data:
        changes["defaults"] = parse_defaults(data["defaults"], current.defaults)
    if "banner" in data:
        banner = data["banner"]
        if banner is not None and not isinstance(banner, bool):
            raise ApiError(400, f"banner: expected true, false or null, got {_json_kind(banner)}")
        changes["banner"] = banner
    if "location" in data:
        changes["location"] = text("location", data["location"], max_len=MAX_NAME)
    return dataclasses.replace(current, **changes)


def parse_defaults(value: Any, current: JobDefaults) -> JobDefaults:
    if not isinstance(value, dict):
        raise ApiError(400, f"defaults: expected an object, got {_json_kind(value)}")
    check_fields(value, DEFAULT_FIELDS, "defaults: ")
    changes: dict[str, Any] = {}
    for key in ("sides", "print_color_mode"):
        if key in value:
            changes[key] = text(f"defaults.{key}", value[key], max_len=MAX_KEYWORD)
    for key in ("orientation_requested", "max_copies"):
        if key in value:
            changes[key] = integer(f"defaults.{key}", value[key])
    defaults = dataclasses.replace(current, **changes)
    problems = check_defaults(defaults)
    if problems:
        raise ApiError(400, "; ".join(f"defaults.{p}" for p in problems))
    return defaults


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    names = {str: "a string", int: "an integer", float: "a number", list: "an array"}
    return names.get(type(value), "an object")


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def _names(names: list[str]) -> str:
    return ", ".join(repr(_short(n, 40)) for n in names[:10])
