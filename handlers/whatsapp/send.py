"""Sending rendered WhatsApp messages through pywa, with Meta's rate limits honoured.

pywa sends and raises typed errors, but retries nothing. Here: a throughput limit (130429) or the
per-recipient pair rate (131056) is waited out and the send tried again a bounded number of times,
as are Meta's own passing failures (131000, a 5xx) and network errors. If the message still cannot
go out, ``SendFailed`` says whether it is worth trying later (the inbox then keeps the update and
tries again, so the user's answer is never dropped silently), and the failure is logged with its
error code, never with the token or the phone number.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Sequence

import httpx
from aiolimiter import AsyncLimiter
from pywa_async import WhatsApp
from pywa_async.errors import WhatsAppError
from pywa_async.types import Button, Section as WaSection, SectionList, SectionRow

from .render import Buttons, ListMessage, Outgoing, Text

log = logging.getLogger(__name__)

THROUGHPUT = 130429  # the phone number's messages per second
PAIR_RATE = 131056  # messages to one user in a short time
TRANSIENT = {THROUGHPUT, PAIR_RATE, 131000, 131016, 2, 1}  # worth another try (131016: service unavailable)
CLOSED_WINDOW = 131047  # more than 24 hours since the user last wrote: only templates may be sent
DELAYS = {THROUGHPUT: (0.5, 1.0, 2.0), PAIR_RATE: (2.0, 4.0, 6.0)}
DEFAULT_DELAYS = (0.5, 1.0, 2.0)


class SendFailed(Exception):
    def __init__(self, code: int | None, transient: bool) -> None:
        super().__init__(f"WhatsApp send failed (code {code})")
        self.code = code
        self.transient = transient


def _code(exc: BaseException) -> int | None:
    return exc.code if isinstance(exc, WhatsAppError) else None


class Sender:
    """``rate``: messages per second the phone number may send (Meta's default tier is 80; a little
    under it leaves room for the retries), enforced with aiolimiter (what PTB's rate limiter uses)
    so a burst is smoothed instead of refused with 130429."""

    def __init__(self, wa: WhatsApp, *, rate: float = 70.0, delays: dict[int, tuple[float, ...]] | None = None) -> None:
        self.wa = wa
        # a tenth of the rate per tenth of a second: no burst of a whole second's worth at once
        self.limiter = AsyncLimiter(max(1.0, rate / 10), 0.1) if rate > 0 else None
        self.delays = delays if delays is not None else DELAYS
        self.sent = 0
        self.retried = 0

    async def send(self, to: str, messages: Sequence[Outgoing]) -> list[str]:
        """Send in order; returns the message ids. Raises ``SendFailed`` when one cannot be sent."""
        return [await self._one(to, m) for m in messages]

    async def _one(self, to: str, message: Outgoing) -> str:
        attempt = 0
        while True:
            try:
                if self.limiter is not None:
                    await self.limiter.acquire()
                sent = await self._call(to, message)
                self.sent += 1
                return str(sent.id)
            except (WhatsAppError, httpx.TransportError) as exc:
                code = _code(exc)
                transient = code in TRANSIENT or code is None or (
                    isinstance(exc, WhatsAppError) and (exc.status_code or 0) >= 500)
                delays = self.delays.get(code or 0, DEFAULT_DELAYS)
                if not transient or attempt >= len(delays):
                    kind = type(exc).__name__
                    (log.warning if transient else log.error)(
                        "whatsapp send failed: code %s (%s) after %d attempt(s)", code, kind, attempt + 1)
                    raise SendFailed(code, transient) from None
                log.info("whatsapp send: code %s, retrying in %.1f s", code, delays[attempt])
                self.retried += 1
                await asyncio.sleep(delays[attempt])
                attempt += 1

    async def _call(self, to: str, m: Outgoing):  # noqa: ANN202 - pywa's SentMessage
        if isinstance(m, Text):
            return await self.wa.send_message(to, m.body, preview_url=False)
        if isinstance(m, Buttons):
            return await self.wa.send_message(to, m.body, header=m.header, footer=m.footer,
                                              buttons=[Button(title, callback_data=bid) for bid, title in m.buttons])
        if isinstance(m, ListMessage):
            sections = [WaSection(s.title or "", [SectionRow(r.title, callback_data=r.id, description=r.description)
                                                  for r in s.rows]) for s in m.sections]
            return await self.wa.send_message(to, m.body, header=m.header, footer=m.footer,
                                              buttons=SectionList(m.button, sections))
        raise TypeError(f"not a WhatsApp message: {type(m).__name__}")
