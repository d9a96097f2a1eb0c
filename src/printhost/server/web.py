"""The status page (``/``, ``/printers/NAME``, ``/jobs/ID``) and the health endpoint.

Plain server-rendered HTML: a person can see the queues and the jobs at a glance; the REST
API and the full web UI come later. Job names and owners are shown only in aggregate
(counts), never to anonymous visitors (DESIGN invariant 4: users see only their own jobs).
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from printhost import __version__
from printhost.ipp.constants import JobState
from printhost.jobs.service import ACTIVE_STATES
from printhost.server.icons import icon_png
from printhost.server.services import Services

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>printhost</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:60em}}
table{{border-collapse:collapse}}td,th{{padding:.3em .8em;border-bottom:1px solid #ddd;
text-align:left}}code{{background:#f4f4f4;padding:0 .3em}}</style></head>
<body><h1>printhost</h1>
<p>Print to <code>{uri}</code> (IPP) from any client.</p>
<h2>Queues</h2>
<table><tr><th>queue</th><th>printer</th><th>accepting</th><th>state</th>
<th>waiting</th><th>printing</th></tr>
{rows}</table>
<p><small>printhost {version}</small></p></body></html>
"""


async def icon(request: Request) -> Response:
    try:
        size = int(request.path_params["size"])
        return Response(icon_png(size), media_type="image/png",
                        headers={"Cache-Control": "max-age=86400"})
    except ValueError:
        return PlainTextResponse("no such icon\n", 404)


#: How long readiness waits for the store before it says the node is not ready.
READINESS_TIMEOUT_SECONDS = 2.0


def livez(request: Request) -> Response:
    """Liveness: the process answers HTTP (a load balancer or supervisor restarts it when
    not). Touches nothing else."""
    return PlainTextResponse("alive\n")


def healthz(services: Services) -> Endpoint:
    """Readiness (``/readyz``, and ``/healthz`` as before): 200 when this node takes work:
    not draining (SIGTERM) and its store answers; else 503, saying which, so the load
    balancer sends requests elsewhere."""

    async def endpoint(request: Request) -> Response:
        if services.draining:
            return PlainTextResponse("draining\n", 503)
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                await services.store.get_queue_state(services.queues.resolve(None))
        except Exception as exc:  # any failure of the store means: not ready
            log.warning("not ready: the store does not answer (%s)", type(exc).__name__)
            return PlainTextResponse("store unavailable\n", 503)
        return PlainTextResponse("ok\n")

    return endpoint


def status_page(services: Services) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        rows = [await _queue_row(services, name) for name in await services.queues.all_names()]
        host = request.url.hostname or "localhost"
        default = services.queues.resolve(None)
        port = request.url.port or 631
        uri = f"ipp://{host}:{port}/printers/{default}"
        page = _PAGE.format(uri=html.escape(uri), rows="\n".join(rows), version=__version__)
        return HTMLResponse(page)

    return endpoint


async def _queue_row(services: Services, name: str) -> str:
    state = await services.store.get_queue_state(name)
    waiting = await services.store.count_jobs(name, ACTIVE_STATES[:2])
    printing = await services.store.count_jobs(name, (JobState.PROCESSING,))
    printer = services.queues.printer_name(name)
    cells = [
        name,
        printer,
        "yes" if state.is_accepting_jobs else "no",
        "paused" if state.paused else "ready",
        str(waiting),
        str(printing),
    ]
    return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
