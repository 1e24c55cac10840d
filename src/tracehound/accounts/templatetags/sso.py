"""`{% sso_buttons %}`: one POST form per enabled SSO provider (the login page)."""

from __future__ import annotations

from typing import Any

from django import template

from tracehound.accounts.sso import login_providers

register = template.Library()


@register.inclusion_tag("sso/buttons.html", takes_context=True)
def sso_buttons(context: template.Context) -> dict[str, Any]:
    return {
        "buttons": login_providers(),
        "next": context.get("next", ""),
        "csrf_token": context.get("csrf_token"),
    }
