"""Who may log in how."""

from __future__ import annotations

from typing import Any

from tracehound.projects.models import OrganizationMember


def local_login_allowed(user: Any) -> bool:
    """Password (or any other local) login is refused to a user of single sign-on who
    has no local password, and to members of an organization that requires single
    sign-on, except its owners marked break-glass and superusers (who must be able to
    repair a broken SSO set-up), unless the superuser flag itself comes from SSO (the
    environment provider's admin group): offboarding at the provider must end it."""
    from tracehound.accounts.models import ExternalIdentity
    from tracehound.accounts.sso import ENV_SLUG, env_provider

    identities = ExternalIdentity.objects.filter(user=user)
    if not user.has_usable_password() and identities.exists():
        return False
    if user.is_superuser:
        env = env_provider()
        from_sso = (
            env is not None
            and bool(env.admin_group)
            and identities.filter(provider_slug=ENV_SLUG).exists()
        )
        if not from_sso:
            return True
    required = OrganizationMember.objects.filter(user=user, organization__require_sso=True)
    return not required.exclude(role="owner", break_glass=True).exists()


def sso_only(user: Any) -> bool:
    """A user made by single sign-on, without a local password: no reset, no setting one."""
    from tracehound.accounts.models import ExternalIdentity

    return not user.has_usable_password() and ExternalIdentity.objects.filter(user=user).exists()
