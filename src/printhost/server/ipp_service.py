"""The IPP front door without the transport: generic request checks (RFC 8011 §4.1), then
``OPERATIONS[operation]`` picks a short handler. The HTTP transport decodes bytes into a
``Message`` and calls ``handle``; the LPD server will call the same services.

Every failure leaves as an IPP status with a precise message: ``IppError`` from a handler,
a malformed target URI, an unsupported operation or version. Anything else is a bug, logged
and answered with server-error-internal-error, and the server keeps serving.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from printhost.auth import Principal
from printhost.ipp.constants import Operation, Status, Tag
from printhost.ipp.model import Attribute, Message
from printhost.server.context import Context, Handler
from printhost.server.operations import (
    control,
    create,
    cups,
    printer,
    query,
    resubmit,
    subscriptions,
)
from printhost.server.reply import IppError, new_response
from printhost.server.services import Services
from printhost.server.targets import TargetError, resolve_target
from printhost.server.uris import Uris

log = logging.getLogger(__name__)

SUPPORTED_VERSIONS = ((1, 0), (1, 1), (2, 0), (2, 1), (2, 2))
CHARSETS = ("utf-8",)  # charset-supported; RFC 8011 §4.1.4.1

Op = Operation
OPERATIONS: dict[Operation, Handler] = {
    Op.PRINT_JOB: create.print_job,
    Op.VALIDATE_JOB: create.validate_job,
    Op.CREATE_JOB: create.create_job,
    Op.SEND_DOCUMENT: create.send_document,
    Op.CLOSE_JOB: create.close_job,
    Op.VALIDATE_DOCUMENT: create.validate_document,
    Op.CANCEL_JOB: control.cancel_job,
    Op.CANCEL_JOBS: control.cancel_jobs,
    Op.CANCEL_MY_JOBS: control.cancel_my_jobs,
    Op.CANCEL_CURRENT_JOB: control.cancel_current_job,
    Op.SUSPEND_CURRENT_JOB: control.suspend_current_job,
    Op.RESUME_JOB: control.resume_job,
    Op.HOLD_JOB: control.hold_job,
    Op.RELEASE_JOB: control.release_job,
    Op.RESTART_JOB: control.restart_job,
    Op.PROMOTE_JOB: control.promote_job,
    Op.SCHEDULE_JOB_AFTER: control.schedule_job_after,
    Op.SET_JOB_ATTRIBUTES: control.set_job_attributes,
    Op.GET_JOB_ATTRIBUTES: query.get_job_attributes,
    Op.GET_JOBS: query.get_jobs,
    Op.REPROCESS_JOB: resubmit.reprocess_job,
    Op.RESUBMIT_JOB: resubmit.resubmit_job,
    Op.CANCEL_DOCUMENT: resubmit.cancel_document,
    Op.SET_DOCUMENT_ATTRIBUTES: resubmit.set_document_attributes,
    Op.GET_DOCUMENTS: query.get_documents,
    Op.GET_DOCUMENT_ATTRIBUTES: query.get_document_attributes,
    Op.GET_PRINTER_ATTRIBUTES: printer.get_printer_attributes,
    Op.GET_PRINTER_SUPPORTED_VALUES: printer.get_printer_supported_values,
    Op.SET_PRINTER_ATTRIBUTES: printer.set_printer_attributes,
    Op.IDENTIFY_PRINTER: printer.identify_printer,
    Op.PAUSE_PRINTER: printer.pause_printer,
    Op.PAUSE_PRINTER_AFTER_CURRENT_JOB: printer.pause_printer,
    Op.RESUME_PRINTER: printer.resume_printer,
    Op.ENABLE_PRINTER: printer.enable_printer,
    Op.DISABLE_PRINTER: printer.disable_printer,
    Op.HOLD_NEW_JOBS: printer.hold_new_jobs,
    Op.RELEASE_HELD_NEW_JOBS: printer.release_held_new_jobs,
    Op.SHUTDOWN_PRINTER: printer.shutdown_printer,
    Op.STARTUP_PRINTER: printer.startup_printer,
    Op.RESTART_PRINTER: printer.restart_printer,
    Op.PURGE_JOBS: printer.purge_jobs,
    Op.CUPS_GET_DEFAULT: cups.cups_get_default,
    Op.CUPS_GET_PRINTERS: cups.cups_get_printers,
    Op.CUPS_GET_CLASSES: cups.cups_get_classes,
    Op.CUPS_ACCEPT_JOBS: cups.cups_accept_jobs,
    Op.CUPS_REJECT_JOBS: cups.cups_reject_jobs,
    **subscriptions.OPERATIONS,
}

#: operations-supported (CUPS extensions are not listed, as CUPS itself does not).
OPERATIONS_SUPPORTED = tuple(sorted(int(op) for op in OPERATIONS if op < 0x4000))


async def handle(
    services: Services,
    request: Message,
    principal: Principal,
    uris: Uris,
    body: AsyncIterator[bytes],
    client_host: str = "",
) -> Message:
    try:
        ctx = _context(services, request, principal, uris, body, client_host)
    except IppError as exc:
        return error_response(request, exc, [])
    try:
        return await OPERATIONS[ctx.operation](ctx)
    except IppError as exc:
        return error_response(request, exc, ctx.unsupported)


def error_response(request: Message, exc: IppError, unsupported: list[Attribute]) -> Message:
    response = new_response(request.version, request.request_id, exc.status, exc.message)
    if unsupported:
        response.add_group(Tag.UNSUPPORTED_GROUP).attributes.extend(unsupported)
    return response


def _context(
    services: Services,
    request: Message,
    principal: Principal,
    uris: Uris,
    body: AsyncIterator[bytes],
    client_host: str,
) -> Context:
    check_request(request)
    operation = Operation(request.code)
    try:
        target = resolve_target(request.operation_attributes)
    except TargetError as exc:
        raise IppError(Status.CLIENT_ERROR_NOT_FOUND, str(exc)) from None
    return Context(
        request=request,
        operation=operation,
        principal=principal,
        uris=uris,
        target=target,
        services=services,
        body=body,
        client_host=client_host,
    )


def check_request(request: Message) -> None:
    """RFC 8011 §4.1.4-4.1.8: version, request-id, the two leading operation attributes."""
    if request.version not in SUPPORTED_VERSIONS:
        major, minor = request.version
        raise IppError(
            Status.SERVER_ERROR_VERSION_NOT_SUPPORTED,
            f"IPP version {major}.{minor} is not supported",
        )
    if request.request_id <= 0:
        raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "request-id must be > 0")
    if not request.groups or request.groups[0].tag != Tag.OPERATION:
        raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "missing operation attributes")
    _check_leading_attributes(request)
    if request.code not in OPERATIONS:
        raise IppError(
            Status.SERVER_ERROR_OPERATION_NOT_SUPPORTED,
            f"operation 0x{request.code:04x} is not supported",
        )


def _check_leading_attributes(request: Message) -> None:
    attrs = request.groups[0].attributes
    names = [a.name for a in attrs[:2]]
    if names != ["attributes-charset", "attributes-natural-language"]:
        raise IppError(
            Status.CLIENT_ERROR_BAD_REQUEST,
            "attributes-charset and attributes-natural-language must come first",
        )
    charset, language = attrs[0], attrs[1]
    if charset.tag != Tag.CHARSET or language.tag != Tag.NATURAL_LANGUAGE:
        raise IppError(
            Status.CLIENT_ERROR_BAD_REQUEST,
            "attributes-charset/-natural-language have the wrong syntax",
        )
    if str(charset.value).lower() not in CHARSETS:
        raise IppError(
            Status.CLIENT_ERROR_CHARSET_NOT_SUPPORTED,
            f"charset {charset.value!r} is not supported (utf-8 is)",
        )
