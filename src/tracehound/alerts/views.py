"""Alert email opt-out: a signed one-click link in each mail (RFC 8058: mail clients
POST to it), and a per-project toggle for a logged-in member."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tracehound.accounts.access import get_project
from tracehound.alerts.backends.email import OPT_OUT_SALT
from tracehound.alerts.models import AlertOptOut
from tracehound.projects.models import Project


def set_opt_out(user_id: int, project: Project | None, opted_out: bool) -> None:
    """Opt the user out of (or back into) alert email for `project` (None: all)."""
    rows = AlertOptOut.objects.filter(user_id=user_id, project=project)
    if not opted_out:
        rows.delete()
    elif not rows.exists():
        AlertOptOut.objects.create(
            user_id=user_id, project=project, created_at=datetime.now(tz=UTC)
        )


@csrf_exempt  # the signed token is the authorisation; mail clients POST without a form
@require_http_methods(["GET", "POST"])
def opt_out(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation button (link scanners must not opt anyone out); POST
    opts out, from that button or a mail client's one-click request."""
    try:
        data = signing.loads(token, salt=OPT_OUT_SALT)
        user_id, project_id = int(data["u"]), data["p"]
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return render(request, "alerts/opt_out.html", {"invalid": True}, status=400)
    project = Project.objects.filter(pk=project_id).first() if project_id is not None else None
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None or (project_id is not None and project is None):
        return render(request, "alerts/opt_out.html", {"invalid": True}, status=404)
    done = request.method == "POST"
    if done:
        set_opt_out(user_id, project, True)
    return render(request, "alerts/opt_out.html", {"project": project, "done": done})


@login_required
@require_http_methods(["GET", "POST"])
def project_alert_email(request: HttpRequest, org: str, project: str) -> HttpResponse:
    """Whether the signed-in user gets alert email for one project; POST enabled=0/1."""
    target = get_project(request.user, org, project)
    user_id = int(getattr(request.user, "pk", 0) or 0)
    if request.method == "POST":
        choice = request.POST.get("enabled", "")
        if choice not in ("0", "1"):
            return render(
                request,
                "alerts/email_toggle.html",
                {"project": target, "error": "enabled must be 0 or 1"},
                status=400,
            )
        set_opt_out(user_id, target, choice == "0")
    receiving = not AlertOptOut.objects.filter(user_id=user_id, project=target).exists()
    everywhere_off = AlertOptOut.objects.filter(user_id=user_id, project=None).exists()
    return render(
        request,
        "alerts/email_toggle.html",
        {"project": target, "receiving": receiving, "everywhere_off": everywhere_off},
    )
