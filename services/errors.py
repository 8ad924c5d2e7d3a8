"""Domain errors shared across services. Each carries a stable code and the facts a
user-facing message needs; handlers/texts.py turns them into words in one place."""
from __future__ import annotations


class DomainError(Exception):
    code = "error"

    def __init__(self, **facts):
        self.facts = facts
        super().__init__(f"{self.code}: {facts}" if facts else self.code)


class NotAllowed(DomainError):
    """The actor's role or scope does not cover this."""
    code = "not_allowed"


class NotFound(DomainError):
    code = "not_found"


class InvalidInput(DomainError):
    """Input the user can fix; `reason` says how."""
    code = "invalid_input"


class InviteInvalid(DomainError):
    code = "invite_invalid"  # facts: why = unknown | used | expired


class AlreadyBound(DomainError):
    code = "already_bound"


class NotBound(DomainError):
    code = "not_bound"
