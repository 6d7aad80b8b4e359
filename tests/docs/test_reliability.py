"""The server defaults docs/reliability.md states are the ones handlers/webserver.py runs with."""
from pathlib import Path

from handlers.webserver import BODY_BUDGET, BODY_TIMEOUT, HEADER_TIMEOUT, MAX_BODY, MAX_CONNECTIONS
from handlers.whatsapp.channel import MAX_NOTIFICATION

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_reliability_page_states_the_server_defaults():
    page = " ".join((DOCS / "reliability.md").read_text(encoding="utf-8").split())
    stated = (f"Production defaults: a {HEADER_TIMEOUT:g} s header timeout, a {BODY_TIMEOUT:g} s body timeout, "
              f"{MAX_CONNECTIONS} connections, a {MAX_BODY >> 20} MB body cap ({MAX_NOTIFICATION >> 20} MB on "
              f"WhatsApp) and a {BODY_BUDGET >> 20} MB body budget.")
    assert stated in page
    assert f"header timeout {HEADER_TIMEOUT:g} s" in page and f"limit {MAX_CONNECTIONS}" in page
