"""The one exception the LPD core raises, and the acknowledgement octets it answers with.

RFC 1179 §6 acknowledges each step of "receive job" with one octet: zero for yes, anything
else for no, without saying what the other values mean. LPRng gives them meanings its
``lpr`` acts on (``ACK_STOP_Q`` 1, ``ACK_RETRY`` 2, ``ACK_FAIL`` 3 in its ``lp.h``), and
other clients treat every non-zero octet alike, so we answer with LPRng's values.
"""

from __future__ import annotations

from enum import IntEnum


class Ack(IntEnum):
    """The acknowledgement octet (RFC 1179 §6)."""

    OK = 0
    #: This queue will not take the job: no such queue, not accepting, not allowed.
    REFUSED = 1
    #: Try again later: the server is busy or out of room.
    RETRY = 2
    #: The job itself is bad (malformed, hostile, too large): resending will not help.
    BAD_JOB = 3


class LpdError(Exception):
    """Input the core refuses, or a refusal the application asks the core to send.

    ``reply`` is what to write before closing the connection: the negative
    acknowledgement octet while the client waits for one (a receive-job conversation),
    nothing for the commands that have no acknowledgement (queue state, remove jobs,
    RFC 1179 §5.3-5.5). After an ``LpdError`` the connection is finished.
    """

    def __init__(self, message: str, ack: Ack = Ack.BAD_JOB) -> None:
        super().__init__(message)
        self.message = message
        self.ack = ack
        self.reply = bytes([ack])

    def without_reply(self) -> LpdError:
        """The same refusal for a command whose client waits for no octet."""
        self.reply = b""
        return self
