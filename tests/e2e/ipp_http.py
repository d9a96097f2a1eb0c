"""A small synchronous IPP-over-HTTP client for end-to-end tests.

Unlike ``printhost.ipp_client.send_ipp`` it never raises for an HTTP status: the tests
need to see 401/400/413/415 answers as they are. Requests are built with the real
codec; responses are decoded with the client limits.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from printhost.ipp.constants import Operation, Status, Tag
from printhost.ipp.decoder import decode_message
from printhost.ipp.encoder import encode_message
from printhost.ipp.model import Attribute, Message, PyValue
from printhost.ipp_client import RESPONSE_LIMITS, new_request

IPP_HEADERS = {"Content-Type": "application/ipp"}
_request_ids = itertools.count(1)


@dataclass
class Reply:
    """One HTTP answer; ``message`` is the decoded IPP body when there is one."""

    http_status: int
    headers: httpx.Headers
    body: bytes
    message: Message | None

    @property
    def status(self) -> int | None:
        """The IPP status-code, None when the body is not IPP."""
        return self.message.code if self.message is not None else None

    @property
    def status_name(self) -> str:
        if self.message is None:
            return f"HTTP {self.http_status} {self.body[:200]!r}"
        try:
            return f"{Status(self.message.code).keyword} ({self.status_message})"
        except ValueError:
            return f"0x{self.message.code:04x}"

    @property
    def status_message(self) -> str:
        value = self.op.get("status-message")
        return str(value) if value is not None else ""

    @property
    def op(self) -> _Group:
        assert self.message is not None, f"no IPP body: HTTP {self.http_status} {self.body!r}"
        return _Group(self.message.operation_attributes.attributes)

    def groups(self, tag: Tag) -> list[_Group]:
        assert self.message is not None, f"no IPP body: HTTP {self.http_status} {self.body!r}"
        return [_Group(g.attributes) for g in self.message.groups_of(tag)]

    def group(self, tag: Tag) -> _Group:
        found = self.groups(tag)
        assert found, f"no group 0x{tag:02x} in the response: {self.status_name}"
        return found[0]


class _Group:
    def __init__(self, attributes: list[Attribute]) -> None:
        self.attributes = attributes

    def get(self, name: str) -> PyValue:
        for attr in self.attributes:
            if attr.name == name:
                return attr.value
        return None

    def integer(self, name: str) -> int:
        value = self.get(name)
        assert isinstance(value, int), f"{name} = {value!r}"
        return value

    def __contains__(self, name: object) -> bool:
        return any(attr.name == name for attr in self.attributes)

    def names(self) -> set[str]:
        return {attr.name for attr in self.attributes}


def ipp_request(
    operation: Operation,
    printer_uri: str,
    user: str | None = None,
    **attributes: tuple[int, PyValue | list[PyValue]],
) -> Message:
    """A request with the standard leading attributes; ``attributes`` are more operation
    attributes, ``name_with_dashes=(tag, value)`` (keyword arguments use underscores)."""
    request = new_request(operation, printer_uri, next(_request_ids), user=user)
    group = request.operation_attributes
    for name, (tag, value) in attributes.items():
        values = value if isinstance(value, list) else [value]
        group.append(Attribute.of(name.replace("_", "-"), tag, *values))
    return request


def add_group(
    request: Message, tag: Tag, attributes: Iterable[tuple[str, int, PyValue | list[PyValue]]]
) -> None:
    group = request.add_group(tag)
    for name, value_tag, value in attributes:
        values = value if isinstance(value, list) else [value]
        group.append(Attribute.of(name, value_tag, *values))


class IppHttp:
    """One keep-alive HTTP client for a server's base URL (http:// or https://)."""

    def __init__(self, base_url: str, timeout: float = 20.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(verify=False, timeout=timeout)

    def close(self) -> None:
        self.client.close()

    def post(
        self,
        request: Message | bytes,
        *,
        path: str = "/printers/myprinter",
        auth: tuple[str, str] | None = None,
        document: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        body = request if isinstance(request, bytes) else encode_message(request)
        response = self.client.post(
            self.base_url + path,
            content=body + document,
            headers={**IPP_HEADERS, **(headers or {})},
            auth=httpx.BasicAuth(*auth) if auth else httpx.USE_CLIENT_DEFAULT,
        )
        return to_reply(response.status_code, response.headers, response.content)


def to_reply(status: int, headers: httpx.Headers, body: bytes) -> Reply:
    message = None
    if headers.get("content-type", "").startswith("application/ipp") and body:
        message, _ = decode_message(body, RESPONSE_LIMITS)
    return Reply(status, headers, body, message)
