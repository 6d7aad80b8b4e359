"""Telegram adapter (python-telegram-bot): renders ``Reply`` objects as HTML with inline keyboards.

``app.build_application`` builds the Application (used by tests with a recording request) and
``runner.run_telegram`` runs it by polling or webhook. Nothing outside this package imports
``telegram``.
"""
