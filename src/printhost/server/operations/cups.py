"""CUPS extension operations that CUPS's own clients use against any server
(IPP-CLIENTS.md §4.1): CUPS-Get-Default, CUPS-Get-Printers, CUPS-Get-Classes,
CUPS-Accept-Jobs and CUPS-Reject-Jobs (`cupsaccept`/`cupsreject`)."""

from __future__ import annotations

from printhost.ipp.constants import Tag
from printhost.ipp.model import Message
from printhost.server.attribute_selection import select_attributes
from printhost.server.context import Context
from printhost.server.operations.printer import disable_printer, enable_printer
from printhost.server.reply import add_group, not_found


async def cups_get_default(ctx: Context) -> Message:
    queue = ctx.services.queues.resolve(None)
    attrs = await ctx.services.queues.attributes(queue, ctx.uris)
    selected, _ = select_attributes(attrs, ctx.keywords("requested-attributes"))
    response = ctx.respond()
    add_group(response, Tag.PRINTER, selected)
    return response


async def cups_get_printers(ctx: Context) -> Message:
    names = await ctx.services.queues.all_names()
    first = ctx.value("first-printer-name")
    if isinstance(first, str) and first in names:
        names = names[names.index(first) :]
    limit = ctx.integer("limit")
    if limit is not None and limit > 0:
        names = names[:limit]
    requested = ctx.keywords("requested-attributes")
    response = ctx.respond()
    for name in names:
        attrs = await ctx.services.queues.attributes(name, ctx.uris)
        add_group(response, Tag.PRINTER, select_attributes(attrs, requested)[0])
    return response


async def cups_get_classes(ctx: Context) -> Message:
    """printhost has no CUPS classes (pools come with routing); an empty list is the
    honest answer and what `lpstat -t` expects from a server without classes."""
    if ctx.target.queue:
        raise not_found(f"class {ctx.target.queue}")
    return ctx.respond()


async def cups_accept_jobs(ctx: Context) -> Message:
    return await enable_printer(ctx)


async def cups_reject_jobs(ctx: Context) -> Message:
    return await disable_printer(ctx)
