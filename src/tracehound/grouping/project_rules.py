"""A project's grouping rules, compiled once: fingerprint rules and stack-trace rules.

Digest calls project_rules(fingerprint_text, stacktrace_text) per event; it is cached
on the texts, so a project's rules are parsed once per worker, and a changed rule text
is simply a new cache key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from tracehound.grouping.enhancers import Enhancements, parse_enhancements
from tracehound.grouping.fingerprint_rules import FingerprintRules, parse_fingerprint_rules

# Sentry's built-in fingerprint rules (`javascript@2024-02-02`): a chunk that failed
# to load is one problem, whatever code asked for it; a React hydration mismatch is one
# problem per page (transaction), whatever component it surfaced in.
BUILTIN_FINGERPRINT_TEXT = """\
family:javascript type:ChunkLoadError -> chunkloaderror
family:javascript value:"ChunkLoadError*" -> chunkloaderror
family:javascript tags.transaction:* message:"Hydration failed because the initial UI does not match what was rendered on the server." -> hydrationerror, {{ tags.transaction }}
family:javascript tags.transaction:* message:"The server could not finish this Suspense boundary, likely due to an error during server rendering. Switched to client rendering." -> hydrationerror, {{ tags.transaction }}
family:javascript tags.transaction:* message:"There was an error while hydrating this Suspense boundary. Switched to client rendering." -> hydrationerror, {{ tags.transaction }}
family:javascript tags.transaction:* message:"There was an error while hydrating. Because the error happened outside of a Suspense boundary, the entire root will switch to client rendering." -> hydrationerror, {{ tags.transaction }}
family:javascript tags.transaction:* message:"Text content does not match server-rendered HTML." -> hydrationerror, {{ tags.transaction }}
"""
BUILTIN_FINGERPRINTS = parse_fingerprint_rules(BUILTIN_FINGERPRINT_TEXT, builtin=True)


@dataclass(slots=True, frozen=True)
class ProjectRules:
    stacktrace: Enhancements | None  # None: no project rules, only the built-in ones
    fingerprints: FingerprintRules = FingerprintRules()


def compile_project_rules(fingerprint_text: str, stacktrace_text: str) -> ProjectRules:
    """Parse both rule texts; raises RuleSyntaxError (line, column) for the first mistake."""
    return ProjectRules(
        stacktrace=parse_enhancements(stacktrace_text) if stacktrace_text.strip() else None,
        fingerprints=parse_fingerprint_rules(fingerprint_text),
    )


# Bounded: each entry holds up to two 64 KiB texts and their compiled rules.
@lru_cache(maxsize=256)
def project_rules(fingerprint_text: str, stacktrace_text: str) -> ProjectRules | None:
    """The compiled rules for digest; None when a project has none.

    Rules are validated on save, so a text that no longer parses (saved by an older
    version, or written to the database directly) falls back to the default grouping
    rather than failing every event of the project.
    """
    if not fingerprint_text.strip() and not stacktrace_text.strip():
        return None
    try:
        return compile_project_rules(fingerprint_text, stacktrace_text)
    except ValueError:
        return None
