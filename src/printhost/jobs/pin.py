"""PIN printing (PWG 5100.11 job-password): a job sent with a PIN is held until its owner
gives the same PIN (the "secure release" of print-accounting systems). Operators release
without it.

We advertise job-password-encryption "none" and digits only (printer_attributes.py), so
the PIN arrives as ASCII digits. Only a salted scrypt hash is kept (auth.hash_password);
hashing runs off the event loop, as it costs tens of milliseconds by design.
"""

from __future__ import annotations

import asyncio

from printhost.auth import hash_password, verify_password

#: PWG 5100.11 job-state-reasons: the job waits for its password.
PIN_WAIT_REASON = "job-password-wait"
MAX_PIN_DIGITS = 16


class PinRefused(Exception):
    """No PIN, or the wrong one, for a job released with its PIN (IPP: not authorized)."""


def parse_pin(value: bytes | str) -> str:
    """The PIN as the client sent it; ValueError (saying why) unless 1-16 ASCII digits."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    if not 1 <= len(text) <= MAX_PIN_DIGITS or not text.isascii() or not text.isdigit():
        raise ValueError(f"job-password must be 1 to {MAX_PIN_DIGITS} digits")
    return text


async def hash_pin(pin: str) -> str:
    return await asyncio.to_thread(hash_password, pin)


async def check_pin(job_id: int, encoded: str, pin: str | None) -> None:
    if pin is None:
        raise PinRefused(f"job {job_id} is released with its PIN: send job-password")
    if not await asyncio.to_thread(verify_password, pin, encoded):
        raise PinRefused(f"wrong PIN for job {job_id}")
