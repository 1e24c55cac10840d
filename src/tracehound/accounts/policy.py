"""Who may log in how."""

from __future__ import annotations

from typing import Any

from tracehound.projects.models import OrganizationMember


def local_login_allowed(user: Any) -> bool:
    """Password login is refused to members of an organization that requires single
    sign-on, except its owners marked break-glass (and superusers, who must be able to
    repair a broken SSO set-up)."""
    if user.is_superuser:
        return True
    required = OrganizationMember.objects.filter(user=user, organization__require_sso=True)
    return not required.exclude(role="owner", break_glass=True).exists()
