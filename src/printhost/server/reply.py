"""Building IPP responses (RFC 8011 §4.1.6): the operation group first, then unsupported
attributes, then job/printer/subscription groups."""

from __future__ import annotations

from collections.abc import Iterable

from printhost.ipp.constants import Status, Tag
from printhost.ipp.model import Attribute, AttributeGroup, Message


class IppError(Exception):
    """A request that ends in an IPP error status; the message becomes status-message."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found(what: str) -> IppError:
    return IppError(Status.CLIENT_ERROR_NOT_FOUND, f"{what} not found")


def bad_request(message: str) -> IppError:
    return IppError(Status.CLIENT_ERROR_BAD_REQUEST, message)


def not_possible(message: str) -> IppError:
    return IppError(Status.CLIENT_ERROR_NOT_POSSIBLE, message)


def forbidden(message: str) -> IppError:
    return IppError(Status.CLIENT_ERROR_FORBIDDEN, message)


def new_response(
    request_version: tuple[int, int], request_id: int, status: Status, message: str = ""
) -> Message:
    version = request_version if request_version[0] in (1, 2) else (2, 0)
    response = Message(version, status, request_id)
    operation = response.add_group(Tag.OPERATION)
    operation.add("attributes-charset", Tag.CHARSET, "utf-8")
    operation.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
    if message:
        operation.add("status-message", Tag.TEXT, message[:255])
    return response


def add_unsupported(response: Message, attributes: Iterable[Attribute]) -> None:
    attrs = list(attributes)
    if attrs:
        response.groups.append(AttributeGroup(Tag.UNSUPPORTED_GROUP, attrs))


def add_group(response: Message, tag: Tag, attributes: Iterable[Attribute]) -> AttributeGroup:
    group = AttributeGroup(tag, list(attributes))
    response.groups.append(group)
    return group
