"""Fixtures of the Telegram adapter tests; the harness itself lives in ``tg_harness``."""
from tests.handlers.telegram.tg_harness import app, channel, engine, kb_dir, recorder, runtime, service, store, tg  # noqa: F401 - pytest fixtures
