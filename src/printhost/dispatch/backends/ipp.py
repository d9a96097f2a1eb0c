"""The IPP backend: ``ipp://`` and ``ipps://`` printers (RFC 8011, PWG 5100.12).

Theory of operation
-------------------
A delivery follows what CUPS's own ipp backend does (IPP-CLIENTS.md §4.2):

1. Get-Printer-Attributes (RFC 8011 §4.2.5): operations, formats, accepting, state. A
   printer that is not accepting jobs or is stopped gets nothing: RETRY, so the dispatcher
   can wait or route the job elsewhere. Printers answering IPP/2.0 with
   version-not-supported or bad-request are asked again in IPP/1.1.
2. Submit (see ``ipp_rules.plan_submission``): Print-Job for one document (§4.2.1);
   Create-Job + Send-Document (§4.2.4, §4.3.1) for several when the printer takes
   multi-document jobs; otherwise one Print-Job per document. The job carries job-name,
   requesting-user-name, job-uuid (PWG 5100.13) and the job template attributes; if the
   printer answers client-error-attributes-or-values-not-supported the job is sent once
   more without job-uuid. The document format is the detected one when the printer lists
   it, else application/octet-stream.
3. ``progress.remote_job_created(job-id)`` as soon as the printer returns the job id, so a
   crash after this point resumes by following that job (``request.remote_job_id``)
   instead of printing it again (DESIGN invariant 2).
4. Get-Job-Attributes (§4.3.4) every 0.2 s, backing off to 2 s, until the job is
   completed, canceled or aborted. Errors while polling are tolerated for ``timeout``
   seconds; then RETRY (with the remote job id, so the next attempt follows it).

For a job split into one Print-Job per document, only the *last* part carries job-uuid
and is reported through ``remote_job_created``: lookup then finds the job only once every
part was sent, and a crash midway re-sends every part (at least once, never lost).

``lookup`` lists the printer's jobs (Get-Jobs, §4.2.6) and matches ours by job-uuid (see
``ipp_rules.match_job``). Cancelling ``deliver`` stops at once and does not cancel the
job at the printer: the dispatcher may be shutting down and will follow it later.

TLS: ``ipps`` printers nearly all use self-signed certificates, so certificates are not
verified (``verify=False``), as ipptool and CUPS accept them too. This protects against
eavesdropping, not against an active man in the middle; pinning each printer's
certificate on first use would, and is the planned next step.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator, Callable
from typing import BinaryIO
from urllib.parse import urlsplit

import httpx

from printhost.dispatch.backends.base import (
    DeliveryRequest,
    DeliveryResult,
    DocumentFile,
    Outcome,
    Progress,
    RemoteLookup,
    RemoteState,
)
from printhost.dispatch.backends.ipp_rules import (
    JOB_ATTRIBUTES,
    LOOKUP_ATTRIBUTES,
    PRINTER_ATTRIBUTES,
    JobStatus,
    Plan,
    PrinterInfo,
    add_document_attributes,
    add_job_attributes,
    created_job_id,
    final_result,
    is_success,
    match_job,
    not_ready,
    plan_submission,
    read_job_status,
    read_jobs,
    read_printer_info,
    refused_result,
    should_retry_without_uuid,
)
from printhost.ipp.constants import Operation, Status, Tag
from printhost.ipp.model import Message
from printhost.ipp_client import IppClientError, http_url_for, new_request, send_ipp

CHUNK_BYTES = 1 << 16
POLL_FIRST = 0.2
POLL_MAX = 2.0
IPP_1_1 = (1, 1)
IPP_2_0 = (2, 0)
_OLD_VERSION_STATUSES = (Status.SERVER_ERROR_VERSION_NOT_SUPPORTED, Status.CLIENT_ERROR_BAD_REQUEST)


class Unreachable(Exception):
    """No usable answer from the printer (connection, TLS, HTTP or decoding error)."""


class Refused(Exception):
    """The printer answered with an error status; carries the result to report."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.message)
        self.result = result


class IppBackend:
    """Delivers to ipp:// and ipps:// printers. ``timeout`` bounds each HTTP step (connect,
    write, read) and how long polling may fail before giving up. An instance keeps a pool
    of connections, so it belongs to one event loop; close it with :meth:`aclose`."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        # One pooled client for every ipp/ipps printer this backend serves (see the module
        # docstring on verify=False).
        self._client = httpx.AsyncClient(verify=False, timeout=timeout)
        self._request_ids = itertools.count(1)

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- the Backend port ---------------------------------------------------------------

    async def deliver(self, request: DeliveryRequest, progress: Progress) -> DeliveryResult:
        uri = request.printer_uri
        if not _is_valid_uri(uri):
            return DeliveryResult(Outcome.RETRY, "printer-stopped", f"invalid printer URI {uri!r}")
        try:
            printer, version = await self._get_printer(uri, request.user_name)
            if request.remote_job_id is not None:  # resuming: the printer has the job
                return await self._follow(uri, request.remote_job_id, version, request, progress)
            blocked = not_ready(printer)
            if blocked is not None:
                return blocked
            return await self._submit(uri, version, printer, request, progress)
        except Unreachable as exc:
            return _unreachable(uri, exc, request.remote_job_id)
        except Refused as exc:
            return exc.result

    async def lookup(self, request: DeliveryRequest) -> RemoteLookup:
        if not _is_valid_uri(request.printer_uri):
            return RemoteLookup(RemoteState.UNKNOWN, message="invalid printer URI")
        try:
            responses = await self._get_jobs(request.printer_uri, request.user_name)
        except (Unreachable, Refused) as exc:
            return RemoteLookup(RemoteState.UNKNOWN, message=f"cannot list printer jobs: {exc}")
        return match_job(read_jobs(responses), request)

    async def probe(self, printer_uri: str) -> bool:
        if not _is_valid_uri(printer_uri):
            return False
        try:
            printer, _version = await self._get_printer(printer_uri, None)
        except (Unreachable, Refused):
            return False
        return printer.accepting

    async def cancel_job(self, request: DeliveryRequest) -> None:
        """Best-effort Cancel-Job (RFC 8011 §4.3.3) for a job canceled here while the printer
        had it: by the recorded remote job id, else by finding our job-uuid (the cancel may
        have come before the printer's job id did). Never raises for printer trouble."""
        if not _is_valid_uri(request.printer_uri):
            return
        job_id = request.remote_job_id
        if job_id is None:
            found = await self.lookup(request)
            job_id = found.remote_job_id if found.state is RemoteState.ACTIVE else None
        if job_id is not None:
            await self._cancel_quietly(request.printer_uri, IPP_2_0, request.user_name, job_id)

    # -- Get-Printer-Attributes -------------------------------------------------------------

    async def _get_printer(self, uri: str, user: str | None) -> tuple[PrinterInfo, tuple[int, int]]:
        response = await self._gpa(uri, user, IPP_2_0)
        version = IPP_2_0
        if response.code in _OLD_VERSION_STATUSES:
            version = IPP_1_1
            response = await self._gpa(uri, user, version)
        if not is_success(response):
            raise Refused(refused_result(response, "Get-Printer-Attributes"))
        return read_printer_info(response), version

    async def _gpa(self, uri: str, user: str | None, version: tuple[int, int]) -> Message:
        message = self._new(Operation.GET_PRINTER_ATTRIBUTES, uri, user, version)
        message.operation_attributes.add("requested-attributes", Tag.KEYWORD, *PRINTER_ATTRIBUTES)
        return await self._send(uri, message)

    # -- submitting -----------------------------------------------------------------------

    async def _submit(
        self,
        uri: str,
        version: tuple[int, int],
        printer: PrinterInfo,
        request: DeliveryRequest,
        progress: Progress,
    ) -> DeliveryResult:
        plan = plan_submission(printer, len(request.documents))
        if plan is Plan.CREATE_JOB:
            # Reported once the last document is in: before that, following the job after
            # a crash would only wait for an incomplete job to time out at the printer.
            job_id = await self._create_job(uri, version, printer, request)
            await progress.remote_job_created(job_id)
            return await self._follow(uri, job_id, version, request, progress)
        result = DeliveryResult(Outcome.FAILED, "aborted-by-system", "no documents")
        last = len(request.documents) - 1
        for index, document in enumerate(request.documents):
            final = index == last  # see the module docstring on split jobs
            job_id = await self._print_job(uri, version, printer, request, document, final)
            if final:
                await progress.remote_job_created(job_id)
            result = await self._follow(uri, job_id, version, request, progress)
            if result.outcome is not Outcome.COMPLETED:
                # An earlier part's id must not be recorded: resuming would follow that
                # part and skip the rest.
                return result if final else dataclasses.replace(result, remote_job_id=None)
        return result

    async def _print_job(
        self,
        uri: str,
        version: tuple[int, int],
        printer: PrinterInfo,
        request: DeliveryRequest,
        document: DocumentFile,
        with_uuid: bool,
    ) -> int:
        def build(uuid: bool) -> Message:
            message = self._new(Operation.PRINT_JOB, uri, request.user_name, version)
            add_job_attributes(message, request, with_uuid=uuid)
            add_document_attributes(message, document, printer.formats)
            return message

        return await self._create(uri, build, with_uuid, document, "Print-Job")

    async def _create_job(
        self, uri: str, version: tuple[int, int], printer: PrinterInfo, request: DeliveryRequest
    ) -> int:
        def build(uuid: bool) -> Message:
            message = self._new(Operation.CREATE_JOB, uri, request.user_name, version)
            add_job_attributes(message, request, with_uuid=uuid)
            return message

        job_id = await self._create(uri, build, True, None, "Create-Job")
        try:
            await self._send_documents(uri, version, printer, request, job_id)
        except (Unreachable, Refused):
            await self._cancel_quietly(uri, version, request.user_name, job_id)
            raise
        return job_id

    async def _send_documents(
        self,
        uri: str,
        version: tuple[int, int],
        printer: PrinterInfo,
        request: DeliveryRequest,
        job_id: int,
    ) -> None:
        last = len(request.documents) - 1
        for index, document in enumerate(request.documents):
            message = self._new(Operation.SEND_DOCUMENT, uri, request.user_name, version)
            message.operation_attributes.add("job-id", Tag.INTEGER, job_id)
            add_document_attributes(message, document, printer.formats)
            message.operation_attributes.add("last-document", Tag.BOOLEAN, index == last)
            response = await self._send(uri, message, document)
            if not is_success(response):
                raise Refused(refused_result(response, "Send-Document"))

    async def _cancel_quietly(
        self, uri: str, version: tuple[int, int], user: str, job_id: int
    ) -> None:
        """Best effort: do not leave a half-sent job at the printer (RFC 8011 §4.3.3)."""
        message = self._new(Operation.CANCEL_JOB, uri, user, version)
        message.operation_attributes.add("job-id", Tag.INTEGER, job_id)
        with contextlib.suppress(Unreachable, Refused):
            await self._send(uri, message)

    async def _create(
        self,
        uri: str,
        build: Callable[[bool], Message],
        with_uuid: bool,
        document: DocumentFile | None,
        doing: str,
    ) -> int:
        """Send a job-creating request; once more without job-uuid if the printer objects
        to it (some printers reject a client-supplied job-uuid, PWG 5100.13 §6.1.1)."""
        response = await self._send(uri, build(with_uuid), document)
        if with_uuid and should_retry_without_uuid(response):
            response = await self._send(uri, build(False), document)
        if not is_success(response):
            raise Refused(refused_result(response, doing))
        job_id = created_job_id(response)
        if job_id is None:
            raise Unreachable(f"{doing} succeeded but the printer returned no job-id")
        return job_id

    # -- following a job ------------------------------------------------------------------

    async def _follow(
        self,
        uri: str,
        job_id: int,
        version: tuple[int, int],
        request: DeliveryRequest,
        progress: Progress,
    ) -> DeliveryResult:
        """Poll Get-Job-Attributes until the job is terminal (RFC 8011 §5.3.7)."""
        delay = POLL_FIRST
        last_seen = ""
        last_answer = time.monotonic()
        while True:
            try:
                status = await self._job_status(uri, job_id, version, request.user_name)
                last_answer = time.monotonic()
            except Unreachable as exc:
                if time.monotonic() - last_answer > self.timeout:
                    return _unreachable(uri, exc, job_id)
                status = None
            if isinstance(status, DeliveryResult):
                return status
            if status is not None and status.is_terminal:
                return final_result(job_id, status)
            if status is not None and status.describe() != last_seen:
                last_seen = status.describe()
                await progress.message(f"printer job {job_id}: {last_seen}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_MAX)

    async def _job_status(
        self, uri: str, job_id: int, version: tuple[int, int], user: str
    ) -> JobStatus | DeliveryResult:
        message = self._new(Operation.GET_JOB_ATTRIBUTES, uri, user, version)
        message.operation_attributes.add("job-id", Tag.INTEGER, job_id)
        message.operation_attributes.add("requested-attributes", Tag.KEYWORD, *JOB_ATTRIBUTES)
        response = await self._send(uri, message)
        if response.code in (Status.CLIENT_ERROR_NOT_FOUND, Status.CLIENT_ERROR_NOT_POSSIBLE):
            # The printer keeps no history of finished jobs; CUPS's ipp backend also takes
            # a vanished job as printed.
            return DeliveryResult(
                Outcome.COMPLETED,
                "job-completed-successfully",
                f"printer job {job_id} is gone from the printer's list; assumed printed",
                job_id,
            )
        status = read_job_status(response) if is_success(response) else None
        if status is None:
            raise Unreachable(f"Get-Job-Attributes for job {job_id}: status 0x{response.code:04x}")
        return status

    # -- Get-Jobs -------------------------------------------------------------------------

    async def _get_jobs(self, uri: str, user: str) -> list[Message]:
        """All jobs the printer remembers: ``which-jobs=all`` (PWG 5100.7), or, where that
        value is not supported, ``not-completed`` + ``completed`` (RFC 8011 §4.2.6.1)."""
        response = await self._get_jobs_which(uri, user, "all")
        if is_success(response):
            return [response, await self._get_jobs_which(uri, user, "not-completed")]
        responses = [
            await self._get_jobs_which(uri, user, w) for w in ("not-completed", "completed")
        ]
        for response in responses:
            if not is_success(response):
                raise Refused(refused_result(response, "Get-Jobs"))
        return responses

    async def _get_jobs_which(self, uri: str, user: str, which: str) -> Message:
        message = self._new(Operation.GET_JOBS, uri, user, IPP_2_0)
        group = message.operation_attributes
        group.add("which-jobs", Tag.KEYWORD, which)
        group.add("requested-attributes", Tag.KEYWORD, *LOOKUP_ATTRIBUTES)
        return await self._send(uri, message)

    # -- plumbing -------------------------------------------------------------------------

    def _new(
        self, operation: Operation, uri: str, user: str | None, version: tuple[int, int]
    ) -> Message:
        return new_request(operation, uri, next(self._request_ids), user or None, version)

    async def _send(
        self, uri: str, message: Message, document: DocumentFile | None = None
    ) -> Message:
        with contextlib.ExitStack() as stack:
            body = None
            if document is not None:
                body = _chunks(stack.enter_context(_open_document(document)))
            try:
                return await send_ipp(self._client, uri, message, body, timeout=self.timeout)
            except (IppClientError, OSError, TimeoutError) as exc:
                raise Unreachable(str(exc) or type(exc).__name__) from exc
        raise AssertionError("unreachable")  # ExitStack does not swallow exceptions


def _open_document(document: DocumentFile) -> BinaryIO:
    try:
        return document.path.open("rb")
    except OSError as exc:
        # Our own spool file: resending will not help.
        raise Refused(
            DeliveryResult(
                Outcome.FAILED, "document-access-error", f"cannot read spooled document: {exc}"
            )
        ) from exc


async def _chunks(source: BinaryIO) -> AsyncIterator[bytes]:
    """The document in chunks; local spool reads are fast, so they are done inline."""
    while chunk := source.read(CHUNK_BYTES):
        yield chunk


def _unreachable(uri: str, exc: Exception, remote_job_id: int | None) -> DeliveryResult:
    return DeliveryResult(
        Outcome.RETRY, "printer-stopped", f"{uri}: {exc}", remote_job_id=remote_job_id
    )


def _is_valid_uri(uri: str) -> bool:
    try:
        http_url_for(uri)
    except ValueError:
        return False
    return urlsplit(uri).scheme in ("ipp", "ipps")
