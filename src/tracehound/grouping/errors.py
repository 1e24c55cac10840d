"""Errors of the grouping rule parsers (stack-trace rules, fingerprint rules)."""

from __future__ import annotations


class RuleSyntaxError(ValueError):
    """A rule text that does not parse; line and column are 1-based."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column
        self.message = message
