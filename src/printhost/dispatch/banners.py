"""Banner (cover) pages: whether a job gets one, and the page itself, spooled for delivery
as the job's first document.

A queue turns banners on (``[[queues]] banner = true``; jobs sent to ``myprinter`` or a
foreign system's queue follow the default queue's setting); a user's preference wins
either way (``banner = false`` opts out, ``true`` asks for one everywhere). The page's
language and input tray come from the printer it goes to (``banner_format``,
``banner_tray``): PostScript and PCL select the tray themselves so the page comes out on
coloured paper; a PDF banner cannot, and takes the printer's default tray.
"""

from __future__ import annotations

from printhost.banner import BannerInfo, render_banner
from printhost.config import Config
from printhost.dispatch.backends.base import DocumentFile
from printhost.jobs.model import JobRecord
from printhost.routing.router import follows_owner
from printhost.store.base import Store
from printhost.store.spool import Spool

MEDIA_TYPES = {
    "pdf": "application/pdf",
    "postscript": "application/postscript",
    "pcl": "application/vnd.hp-pcl",
}


async def wants_banner(config: Config, store: Store, job: JobRecord) -> bool:
    prefs = await store.get_preferences(job.owner)
    if prefs is not None and prefs.banner is not None:
        return prefs.banner
    queue_name = config.default_queue if follows_owner(config, job.queue) else job.queue
    queue = config.queue(queue_name)
    return queue is not None and queue.banner


async def spool_banner(
    config: Config, spool: Spool, job: JobRecord, printer: str, now: float
) -> tuple[str, DocumentFile]:
    """Render the page for ``printer`` and spool it; returns (spool path, document)."""
    printer_config = config.printer(printer)
    fmt = printer_config.banner_format if printer_config else "pdf"
    tray = printer_config.banner_tray if printer_config else ""
    info = BannerInfo(
        user=job.owner,
        job_name=job.name,
        job_id=job.id,
        host=job.originating_host,
        queue=job.queue,
        printer=printer,
        time=now,
    )
    writer = spool.writer("banner")
    writer.write(render_banner(info, fmt, tray))
    stored = await writer.commit()
    return stored.path, DocumentFile(spool.path(stored.path), MEDIA_TYPES[fmt], "banner")
