"""What Meta sends to a business's webhook: the ``whatsapp_business_account`` envelope, message and
status payloads, message ids that look like real ones, and the ``X-Hub-Signature-256`` signature.

The shapes follow Meta's "messages webhook reference" pages (text, interactive, image, audio, video,
document, sticker, location, contacts, reaction, unsupported, edit, status). Contacts carry the
business-scoped user id (``user_id``, "BSUID") Meta added to every messages webhook in 2026; pywa 4.5
requires it on inbound messages.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

WAMID = re.compile(r"^wamid\.[A-Za-z0-9+/]+={0,2}$")
COUNTRY_BY_PREFIX = (("972", "IL"), ("970", "PS"), ("44", "GB"), ("49", "DE"), ("33", "FR"), ("1", "US"))


def make_wamid(wa_id: str, *, inbound: bool) -> str:
    """A message id in Meta's format: base64 of a small record naming the user's number, the
    direction (0x12 user->business, 0x11 business->user) and a random hex id ("3A" + 18 hex digits
    for messages from a phone, 18 hex digits for API sends)."""
    msg = ("3A" + secrets.token_hex(9) if inbound else secrets.token_hex(9)).upper().encode()
    phone = wa_id.encode()
    raw = (b"\x1c\x18" + bytes([len(phone)]) + phone + b"\x15\x02\x00" + (b"\x12" if inbound else b"\x11")
           + b"\x18" + bytes([len(msg)]) + msg + b"\x00")
    return "wamid." + base64.b64encode(raw).decode()


def parse_wamid(wamid: str) -> tuple[str, bool]:
    """(the user's number, inbound?) of a wamid made like Meta's; ValueError otherwise."""
    if not WAMID.match(wamid):
        raise ValueError(f"not a wamid: {wamid!r}")
    raw = base64.b64decode(wamid[len("wamid."):])
    if raw[:2] != b"\x1c\x18":
        raise ValueError(f"not a wamid record: {wamid!r}")
    n = raw[2]
    phone = raw[3:3 + n].decode()
    rest = raw[3 + n:]
    if rest[:3] != b"\x15\x02\x00" or rest[3] not in (0x11, 0x12) or rest[-1:] != b"\x00":
        raise ValueError(f"not a wamid record: {wamid!r}")
    return phone, rest[3] == 0x12


def bsuid_for(wa_id: str) -> str:
    """A stable business-scoped user id for a number, shaped like Meta's (``IL.`` + 20 digits)."""
    cc = next((c for p, c in COUNTRY_BY_PREFIX if wa_id.startswith(p)), "US")
    return f"{cc}.{int(hashlib.sha256(wa_id.encode()).hexdigest(), 16) % 10 ** 20:020d}"


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def sign_sha1(body: bytes, app_secret: str) -> str:
    """The legacy ``X-Hub-Signature`` value Meta still sends alongside."""
    return "sha1=" + hmac.new(app_secret.encode(), body, hashlib.sha1).hexdigest()


def encode(envelope: dict[str, Any]) -> bytes:
    """Serialise as Meta does: compact, non-ASCII as \\uXXXX escapes and '/' as '\\/'. Verifying a
    signature over ``json.dumps(json.loads(body))`` therefore fails, as it does with Meta."""
    return json.dumps(envelope, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


@dataclass(frozen=True)
class Business:
    waba_id: str
    phone_number_id: str
    display_phone_number: str


def envelope(biz: Business, value: dict[str, Any], field: str = "messages") -> dict[str, Any]:
    return {"object": "whatsapp_business_account",
            "entry": [{"id": biz.waba_id,
                       "changes": [{"value": {"messaging_product": "whatsapp",
                                              "metadata": {"display_phone_number": biz.display_phone_number,
                                                           "phone_number_id": biz.phone_number_id},
                                              **value},
                                    "field": field}]}]}


def contact(wa_id: str, name: str | None, bsuid: str | None) -> dict[str, Any]:
    c: dict[str, Any] = {"profile": {"name": name or ""}, "wa_id": wa_id}
    if bsuid:
        c["user_id"] = bsuid
    return c


def message(wa_id: str, kind: str, content: Any, *, wamid: str | None = None,
            context: dict[str, Any] | None = None, timestamp: int | None = None) -> dict[str, Any]:
    m: dict[str, Any] = {}
    if context:
        m["context"] = context
    m.update({"from": wa_id, "id": wamid or make_wamid(wa_id, inbound=True),
              "timestamp": str(timestamp if timestamp is not None else int(time.time())), "type": kind})
    if content is not None:
        m[kind] = content
    return m


def media_id() -> str:
    return str(10 ** 15 + secrets.randbelow(9 * 10 ** 15))


def media(kind: str, mime_type: str, **extra: Any) -> dict[str, Any]:
    mid = media_id()
    out = {"mime_type": mime_type, "sha256": base64.b64encode(secrets.token_bytes(32)).decode(), "id": mid,
           "url": f"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid={mid}&ext={int(time.time())}"}
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


# error objects inside webhooks (statuses[].errors, messages[].errors): no "type", has "title" and "href"
def webhook_error(code: int, title: str, details: str) -> dict[str, Any]:
    return {"code": code, "title": title, "message": title, "error_data": {"details": details},
            "href": "https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes"}


def status(biz: Business, wamid: str, state: str, wa_id: str, *, bsuid: str | None, name: str | None,
           error: dict[str, Any] | None = None, contacts: bool | None = None, tracker: str | None = None,
           conversation_id: str | None = None, timestamp: int | None = None) -> dict[str, Any]:
    now = int(time.time()) if timestamp is None else timestamp
    s: dict[str, Any] = {"id": wamid, "status": state, "timestamp": str(now), "recipient_id": wa_id}
    if bsuid and state != "failed":
        s["recipient_user_id"] = bsuid
    if tracker:
        s["biz_opaque_callback_data"] = tracker
    if state in ("sent", "delivered"):
        conv: dict[str, Any] = {"id": conversation_id or secrets.token_hex(16)}
        if state == "sent":
            conv["expiration_timestamp"] = str(now + 86400)
        conv["origin"] = {"type": "service"}
        s["conversation"] = conv
        s["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service",
                        "type": "free_customer_service"}
    if state == "failed":
        s["errors"] = [error or webhook_error(131000, "Something went wrong", "Message failed to send")]
    value: dict[str, Any] = {}
    with_contacts = (state != "failed") if contacts is None else contacts
    if with_contacts:
        value["contacts"] = [contact(wa_id, name, bsuid)]
    value["statuses"] = [s]
    return envelope(biz, value)


def wamids_of(env: dict[str, Any]) -> list[str]:
    out = []
    for entry in env.get("entry", []):
        for change in entry.get("changes", []):
            value = change.get("value", {})
            out += [m.get("id") for m in value.get("messages", [])]
            out += [s.get("id") for s in value.get("statuses", [])]
    return [w for w in out if w]
