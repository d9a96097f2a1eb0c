"""What an operation handler gets: the decoded request, who asks, where it came from, the
document body still streaming, and the services to call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from printhost.auth import Principal
from printhost.ipp.constants import Operation, Status, Tag
from printhost.ipp.model import Attribute, AttributeGroup, Message, PyValue
from printhost.server.reply import IppError, bad_request, new_response
from printhost.server.targets import Target
from printhost.server.uris import Uris

if TYPE_CHECKING:
    from printhost.server.services import Services


@dataclass(slots=True)
class Context:
    request: Message
    operation: Operation
    principal: Principal
    uris: Uris
    target: Target
    services: Services
    body: AsyncIterator[bytes]
    client_host: str = ""
    #: Attributes to report in the unsupported-attributes group of the response.
    unsupported: list[Attribute] = field(default_factory=list)

    @property
    def op(self) -> AttributeGroup:
        return self.request.operation_attributes

    def group(self, tag: Tag) -> AttributeGroup:
        return self.request.group(tag) or AttributeGroup(tag)

    def value(self, name: str, default: PyValue = None) -> PyValue:
        attr = self.op.get(name)
        return attr.value if attr is not None else default

    def text(self, name: str, default: str = "") -> str:
        value = self.value(name, default)
        if not isinstance(value, str):
            raise bad_request(f"{name} must be a string")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.value(name, default)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise bad_request(f"{name} must be an integer")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.value(name, default)
        if not isinstance(value, bool):
            raise bad_request(f"{name} must be a boolean")
        return value

    def keywords(self, name: str) -> list[str] | None:
        attr = self.op.get(name)
        if attr is None:
            return None
        values = [v for v in attr.values if isinstance(v, str)]
        if len(values) != len(attr.items):
            raise bad_request(f"{name} must be keywords")
        return values

    def respond(self, status: Status = Status.SUCCESSFUL_OK, message: str = "") -> Message:
        if self.unsupported and status == Status.SUCCESSFUL_OK:
            status = Status.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES
        response = new_response(self.request.version, self.request.request_id, status, message)
        if self.unsupported:
            response.add_group(Tag.UNSUPPORTED_GROUP).attributes.extend(self.unsupported)
        return response

    def require_operator(self) -> None:
        """Operator operations need a proven operator or admin (RFC 8011 §5.4 roles)."""
        if not self.principal.authenticated:
            raise IppError(
                Status.CLIENT_ERROR_NOT_AUTHENTICATED,
                f"{self.operation.keyword} needs an operator: authenticate first",
            )
        if not self.principal.is_operator:
            raise IppError(
                Status.CLIENT_ERROR_NOT_AUTHORIZED, f"{self.principal.name} is not an operator"
            )


Handler = Callable[[Context], Awaitable[Message]]
