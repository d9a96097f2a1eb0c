"""LPD (RFC 1179), sans-I/O: bytes in, events out, no sockets, asyncio or database.

Written by hand for printhost: no maintained Python LPD library exists (IPP-CLIENTS.md
§6.1). ``LpdConnection`` is one server-side connection (connection.py), the control-file
parser is control.py, the queue listing text is listing.py, which jobs a remove request
names is removal.py; every bound is a ``Limits`` field. The only exception decoding
raises is ``LpdError``, which carries the reply.
"""

from printhost.lpd.commands import Command, Subcommand
from printhost.lpd.connection import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    ControlFileReceived,
    ControlFileStarted,
    DataChunk,
    DataFileEnded,
    DataFileStarted,
    Event,
    JobAborted,
    LpdConnection,
    PrintWaitingJobs,
    QueueStateRequested,
    ReceivedJob,
    ReceiveJob,
    RemoveJobsRequested,
    Sentinel,
    State,
)
from printhost.lpd.control import PRINT_FORMATS, ControlFile, DataFileUse, parse_control_file
from printhost.lpd.errors import Ack, LpdError
from printhost.lpd.limits import Limits
from printhost.lpd.listing import ListingEntry, QueueSummary, format_queue_state
from printhost.lpd.removal import Selection, job_numbers, select_for_removal

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "PRINT_FORMATS",
    "Ack",
    "Command",
    "ConnectionClosed",
    "ControlFile",
    "ControlFileReceived",
    "ControlFileStarted",
    "DataChunk",
    "DataFileEnded",
    "DataFileStarted",
    "DataFileUse",
    "Event",
    "JobAborted",
    "Limits",
    "ListingEntry",
    "LpdConnection",
    "LpdError",
    "PrintWaitingJobs",
    "QueueStateRequested",
    "QueueSummary",
    "ReceiveJob",
    "ReceivedJob",
    "RemoveJobsRequested",
    "Selection",
    "Sentinel",
    "State",
    "Subcommand",
    "format_queue_state",
    "job_numbers",
    "parse_control_file",
    "select_for_removal",
]
