"""One error hierarchy for the whole project.

Every error that concerns a knowledge file carries where it happened (file, line, entry id,
field) so a curator can go straight to the spot; ``str()`` renders it as ``file:line: ...``.
"""
from __future__ import annotations

from dataclasses import dataclass


class RashutError(Exception):
    """Base of every error the project raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation finding, located as precisely as the YAML allows."""

    message: str
    file: str | None = None
    line: int | None = None
    entry: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file or "<base>"
        if self.line is not None:
            where += f":{self.line}"
        parts = [where]
        if self.entry:
            parts.append(f"entry '{self.entry}'")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ": ".join(parts) + f": {self.message}"


class KnowledgeError(RashutError):
    """The knowledge base cannot be loaded. Holds every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems: list[Problem] = problems if isinstance(problems, list) else [problems]
        super().__init__(self.render())

    def render(self, limit: int | None = None) -> str:
        shown = self.problems if limit is None else self.problems[:limit]
        text = "\n".join(str(p) for p in shown)
        if limit is not None and len(self.problems) > limit:
            text += f"\n... and {len(self.problems) - limit} more"
        return text


class SettingsError(RashutError):
    """A setting is missing or malformed; the message names the variable."""


class StoreError(RashutError):
    """The store could not complete an operation (after its retries)."""
