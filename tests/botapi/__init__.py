"""A strict local emulator of the Telegram Bot API, for tests and benchmarks (see ``server.py``)."""
