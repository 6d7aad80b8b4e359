"""The ``/_test/`` HTTP control API of the Graph API emulator (for a benchmark that runs it as its own
process). A mixin of ``GraphApiEmulator``."""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from typing import Any

from aiohttp import web

from tests.graphapi import inbound as ib
from tests.graphapi.webhooks import BUILDERS, DEFAULT_VERIFY_TOKEN


class ControlMixin:
    # ------------------------------------------------------------------ HTTP: test control
    async def _control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        q = request.query
        body = await request.json() if request.body_exists and request.content_type == "application/json" else {}

        def out(obj: Any, status: int = 200) -> web.Response:
            return web.json_response(obj, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))

        try:
            if action == "push":
                return out({"wamids": await self._control_push(body)})
            if action == "calls":
                return out([c.to_json() for c in self.calls(since=int(q.get("since", 0)))])
            if action == "sent":
                return out([c.to_json() for c in self.sent(q.get("to"), type=q.get("type"),
                                                            since=int(q.get("since", 0)))])
            if action == "refused":
                return out([c.to_json() for c in self.refused(int(q["code"]) if "code" in q else None)])
            if action == "count":
                since = int(q.get("since", 0))
                calls = self.calls(since=since)
                return out({"sent": sum(1 for c in calls if c.kind == "message" and c.ok),
                            "refused": sum(1 for c in calls if not c.ok), "calls": len(self.calls())})
            if action == "deliveries":
                return out([asdict(d) for d in self.deliveries()])
            if action == "window":
                self.set_last_inbound(body["wa_id"], body.get("seconds_ago", 0.0))
                return out({"ok": True, "open": self.window_open(self.user(body["wa_id"]).wa_id)})
            if action == "fail":
                self.fail_next(int(body.get("count", 1)), int(body.get("code", 131056)), to=body.get("to"))
                return out({"ok": True})
            if action == "configure":
                self.configure(**body)
                return out({"ok": True})
            if action == "advance":
                self.advance(float(body.get("seconds", 0)))
                return out({"ok": True})
            if action == "verify":
                r = await self.verify(body.get("url"), body.get("verify_token", DEFAULT_VERIFY_TOKEN))
                return out({"status": r.status, "body": r.body, "challenge": r.challenge, "ok": r.ok})
            if action == "reset":
                self.reset(full=q.get("full") in ("1", "true"))
                return out({"ok": True})
            if action == "info":
                return out({"url": self.url, "phone_number_id": self.phone_number_id,
                            "display_phone_number": self.display_phone_number, "waba_id": self.business.waba_id,
                            "webhook_url": self.webhook_url, "mps": self.mps, "pair_burst": self.pair_burst,
                            "pair_interval": self.pair_interval, "window_seconds": self.window_seconds,
                            "window_error": self.window_error})
        except (KeyError, TypeError, ValueError) as exc:
            return out({"error": f"{type(exc).__name__}: {exc}"}, 400)
        return out({"error": f"unknown control action {action}"}, 404)

    async def _control_push(self, body: Any) -> list[str]:
        """``{"build": "text", "args": {"wa_id": ..., "body": ...}}``, ``{"envelope": {...}}``, a list
        of those, or ``{"items": [...], "rate": N}`` to have the emulator pace them (N per second).
        Returns the wamids at once; deliveries follow in the background."""
        rate = body.get("rate") if isinstance(body, dict) else None
        items = body.get("items", [body]) if isinstance(body, dict) else list(body)
        envelopes = []
        for item in items:
            if "envelope" in item:
                envelopes.append(item["envelope"])
            elif item.get("build") in BUILDERS:
                envelopes.append(getattr(self, item["build"])(**item.get("args", {})))
            else:
                raise ValueError(f"push item needs 'envelope' or 'build' (one of {BUILDERS})")
        options = body.get("options", {}) if isinstance(body, dict) else {}
        if rate:
            async def paced() -> None:
                start = time.monotonic()
                for k, env in enumerate(envelopes):
                    await asyncio.sleep(max(0.0, start + k / float(rate) - time.monotonic()))
                    self.push(env, **options)

            self._spawn(paced())
            return [w for env in envelopes for w in ib.wamids_of(env)]
        return [w for env in envelopes for w in self.push(env, **options)]
