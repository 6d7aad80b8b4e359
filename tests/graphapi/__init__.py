"""A strict local emulator of the WhatsApp Cloud API (Graph API), for tests and benchmarks (see ``server.py``)."""
