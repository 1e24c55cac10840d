"""Alert pages: the organization's channels (a form per kind, generated from the backend's
declared settings; test, enable/disable, delete), the delivery log, and a project's rules.

Every change goes through alerts/rule_actions.py (which validates and writes the audit
entry), so a bad setting is refused here with the same message the CLI and API give,
shown on the field it names. Secret settings are never rendered back.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tracehound.accounts.access import Access, get_project_access, organization_access
from tracehound.alerts import registry, rule_actions
from tracehound.alerts.base import Backend, ConfigError, Setting
from tracehound.alerts.channels import public_config
from tracehound.alerts.models import AlertRule, Channel, DeliveryAttempt
from tracehound.alerts.testing import TestUnavailable, send_test
from tracehound.lib.ids import parse_id
from tracehound.lib.pagination import CursorError, SortKey, paginate, parse_cursor
from tracehound.projects.models import Project
from tracehound.web.org_settings import forbidden

WRITE = "org:write"
RULE_WRITE = "project:write"
DELIVERY_PAGE_SIZE = 50
SECRET_KEPT = "Set; leave blank to keep."


# -- channel forms, generated from the backend's settings --------------------------------


def setting_field(setting: Setting, *, editing: bool) -> forms.Field:
    """The form field of one declared setting; a secret is a password box never filled."""
    required = setting.required and setting.default is None and not (setting.secret and editing)
    common: dict[str, Any] = {"label": setting.label, "required": False, "help_text": setting.help}
    if setting.secret:
        widget: forms.Widget = forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off"}
        )
        if editing:
            common["help_text"] = f"{setting.help} {SECRET_KEPT}".strip()
        field: forms.Field = forms.CharField(widget=widget, strip=False, **common)
    elif setting.kind == "bool":
        field = forms.BooleanField(**common)
    elif setting.kind == "choice":
        field = forms.ChoiceField(choices=[("", "—"), *setting.choices], **common)
    elif setting.kind in ("headers", "text"):
        field = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), strip=False, **common)
    else:
        field = forms.CharField(strip=False, **common)
    # Required-ness is the backend's to check (ConfigError names it); the mark is a hint.
    field.widget.attrs["data-required"] = "1" if required else "0"
    return field


class ChannelForm(forms.Form):
    name = forms.CharField(required=False, strip=False)

    def __init__(self, *args: Any, backend: type[Backend], editing: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.backend = backend
        for setting in backend.settings:
            self.fields[f"s_{setting.name}"] = setting_field(setting, editing=editing)

    def values(self) -> dict[str, Any]:
        """The settings as the backend's clean() takes them (blank: unset)."""
        out: dict[str, Any] = {}
        for setting in self.backend.settings:
            value = self.cleaned_data.get(f"s_{setting.name}")
            if setting.kind == "headers" and isinstance(value, str) and not value.strip():
                value = None
            out[setting.name] = None if value == "" else value
        return out

    def refuse(self, exc: ConfigError) -> None:
        name = "name" if exc.setting == "name" else f"s_{exc.setting}"
        self.add_error(name if name in self.fields else None, f"{exc.setting}: {exc.message}")


def initial_of(channel: Channel, backend: type[Backend]) -> dict[str, Any]:
    shown = public_config(channel)
    initial: dict[str, Any] = {"name": channel.name}
    for setting in backend.settings:
        if setting.secret:
            continue
        value = shown.get(setting.name)
        if setting.kind == "headers" and isinstance(value, dict):
            value = "\n".join(f"{k}: {v}" for k, v in value.items())
        initial[f"s_{setting.name}"] = value
    return initial


# -- channel pages -----------------------------------------------------------------------


def _org(request: HttpRequest, org: str) -> Access:
    return organization_access(request, org, scope=None)


def _channel(access: Access, channel_id: int) -> Channel:
    channel = Channel.objects.filter(pk=channel_id, organization=access.organization).first()
    if channel is None:
        raise Http404("channel not found")
    return channel


def _page(
    request: HttpRequest, template: str, access: Access, status: int = 200, **ctx: Any
) -> HttpResponse:
    context = {"org": access.organization, "access": access, "can_change": access.has(WRITE), **ctx}
    return render(request, f"tracehound/alerts/{template}", context, status=status)


@login_required
@require_GET
def channel_list(request: HttpRequest, org: str) -> HttpResponse:
    access = _org(request, org)
    rows = []
    for channel in Channel.objects.filter(organization=access.organization).order_by("name")[:500]:
        cls = registry.get(channel.kind)
        rows.append({"channel": channel, "label": cls.label if cls else "unavailable"})
    return _page(request, "channels.html", access, rows=rows, kinds=registry.choices())


@login_required
@require_http_methods(["GET", "POST"])
def channel_new(request: HttpRequest, org: str) -> HttpResponse:
    access = _org(request, org)
    if not access.has(WRITE):
        return forbidden(request, access, WRITE)
    kind = str(request.GET.get("kind") or request.POST.get("kind") or "")
    backend = registry.get(kind)
    if backend is None:
        error = f"kind: unknown kind {kind[:64]!r}; choose one of the list"
        return _page(
            request, "channels.html", access, 400, rows=[], kinds=registry.choices(), error=error
        )
    form = ChannelForm(request.POST or None, backend=backend, editing=False)
    if request.method == "POST" and form.is_valid():
        try:
            channel, shown_once = rule_actions.create_channel(
                access.organization,
                form.cleaned_data["name"],
                kind,
                form.values(),
                actor=access.actor,
                request=request,
            )
        except ConfigError as exc:
            form.refuse(exc)
        else:
            messages.success(request, f"Channel {channel.name} created.")
            if shown_once:
                return _page(
                    request, "created.html", access, channel=channel, shown_once=shown_once
                )
            return redirect("alert-channel", org=access.organization.slug, channel_id=channel.id)
    status = 400 if request.method == "POST" else 200
    return _page(
        request, "channel_form.html", access, status, form=form, backend=backend, kind=kind
    )


@login_required
@require_http_methods(["GET", "POST"])
def channel_edit(request: HttpRequest, org: str, channel_id: int) -> HttpResponse:
    access = _org(request, org)
    channel = _channel(access, channel_id)
    backend = registry.get(channel.kind)
    # Classes are callable: templates get the label and a flag, never the class.
    context: dict[str, Any] = {
        "channel": channel,
        "available": backend is not None,
        "kind_label": backend.label if backend else "unavailable",
    }
    if backend is None:  # a plugin that was removed: nothing to edit, only delete
        return _page(request, "channel_form.html", access, **context)
    if request.method == "POST":
        if not access.has(WRITE):
            return forbidden(request, access, WRITE)
        form = ChannelForm(request.POST, backend=backend, editing=True)
        if form.is_valid():
            try:
                rule_actions.update_channel(
                    channel,
                    form.values(),
                    name=form.cleaned_data["name"],
                    actor=access.actor,
                    request=request,
                )
            except ConfigError as exc:
                form.refuse(exc)
            else:
                messages.success(request, f"Channel {channel.name} saved.")
                return redirect(
                    "alert-channel", org=access.organization.slug, channel_id=channel.id
                )
        channel.refresh_from_db()
        return _page(request, "channel_form.html", access, 400, form=form, **context)
    form = ChannelForm(initial=initial_of(channel, backend), backend=backend, editing=True)
    if not access.has(WRITE):
        for field in form.fields.values():
            field.disabled = True
    return _page(request, "channel_form.html", access, form=form, **context)


@login_required
@require_POST
def channel_action(request: HttpRequest, org: str, channel_id: int, action: str) -> HttpResponse:
    """enable, disable, delete, test: one POST each."""
    access = _org(request, org)
    channel = _channel(access, channel_id)
    if not access.has(WRITE):
        return forbidden(request, access, WRITE)
    slug = access.organization.slug
    if action == "delete":
        rule_actions.delete_channel(channel, actor=access.actor, request=request)
        messages.success(request, f"Channel {channel.name} deleted.")
        return redirect("alert-channels", org=slug)
    if action in ("enable", "disable"):
        rule_actions.set_channel_enabled(
            channel, action == "enable", actor=access.actor, request=request
        )
        messages.success(request, f"Channel {channel.name} {action}d.")
        return redirect("alert-channel", org=slug, channel_id=channel.id)
    try:
        attempt = send_test(channel, actor=access.actor, request=request)
    except TestUnavailable as exc:
        messages.error(request, f"Cannot send a test: {exc}.")
        return redirect("alert-channel", org=slug, channel_id=channel.id)
    return _page(request, "test_result.html", access, channel=channel, attempt=attempt)


@login_required
@require_GET
def delivery_log(request: HttpRequest, org: str) -> HttpResponse:
    access = _org(request, org)
    attempts = DeliveryAttempt.objects.filter(
        notification__channel__organization=access.organization
    ).select_related("notification", "notification__channel")
    channels = Channel.objects.filter(organization=access.organization).order_by("name")[:500]
    raw_channel = str(request.GET.get("channel", ""))
    context: dict[str, Any] = {"channels": channels, "channel_filter": raw_channel, "rows": []}
    if raw_channel:
        pk = parse_id(raw_channel)
        if pk is None:
            return _page(
                request,
                "deliveries.html",
                access,
                400,
                error="channel: not a channel id",
                **context,
            )
        attempts = attempts.filter(notification__channel_id=pk)
    try:
        raw_cursor = request.GET.get("cursor")
        cursor = parse_cursor(raw_cursor) if raw_cursor else None
        page = paginate(attempts, SortKey("id", False), cursor, DELIVERY_PAGE_SIZE)
    except CursorError as exc:
        return _page(request, "deliveries.html", access, 400, error=f"cursor: {exc}", **context)
    query = [("channel", raw_channel)] if raw_channel else []
    if page.has_next:
        context["next_url"] = "?" + urlencode([*query, ("cursor", str(page.next))])
    if page.has_previous:
        context["previous_url"] = "?" + urlencode([*query, ("cursor", str(page.previous))])
    context["rows"] = page.rows
    return _page(request, "deliveries.html", access, **context)


# -- rules ---------------------------------------------------------------------------------


def parse_tag_lines(text: str) -> list[dict[str, str]]:
    """Lines "KEY OP VALUE" (OP one of AlertRule.TAG_OPS; set/not_set take no value)."""
    filters = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split(None, 2)
        if len(parts) < 2:
            raise ConfigError("tag_filters", f"line {number}: expected KEY OP VALUE")
        filters.append(
            {"key": parts[0], "op": parts[1], "value": parts[2] if len(parts) > 2 else ""}
        )
    return filters


def tag_lines(filters: list[dict[str, str]]) -> str:
    return "\n".join(f"{f['key']} {f['op']} {f['value']}".rstrip() for f in filters)


class RuleForm(forms.Form):
    name = forms.CharField(required=False, strip=False)
    enabled = forms.BooleanField(required=False, initial=True)
    triggers = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[
            ("new_issue", "New issue"),
            ("regression", "Regression"),
            ("unignored", "Unignored"),
            ("resolved", "Issue resolved (for backends that close things)"),
            ("frequency", "Frequency: more than N events in M minutes"),
            ("users", "Affected users: more than N users in M minutes"),
        ],
    )
    frequency_count = forms.IntegerField(required=False, label="Events (N)")
    frequency_window = forms.IntegerField(required=False, label="in minutes (M)")
    users_count = forms.IntegerField(required=False, label="Users (N)")
    users_window = forms.IntegerField(required=False, label="in minutes (M)")
    environment = forms.CharField(required=False, help_text="Exact; blank: any.")
    min_level = forms.ChoiceField(
        required=False,
        label="Level at least",
        choices=[("", "any"), *((lv, lv) for lv in rule_actions.LEVELS)],
    )
    release = forms.CharField(required=False, help_text='Exact, or "latest"; blank: any.')
    tag_filters = forms.CharField(
        required=False,
        label="Tag conditions",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: KEY OP VALUE, OP one of " + ", ".join(AlertRule.TAG_OPS),
    )
    throttle_minutes = forms.IntegerField(required=False, initial=30, label="Throttle (minutes)")
    channels = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        org_channels = Channel.objects.filter(organization_id=project.organization_id)
        field = self.fields["channels"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [
            (str(c.id), f"{c.name} ({c.kind})") for c in org_channels.order_by("name")[:500]
        ]

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data

        def pair(field: str) -> tuple[Any, Any] | None:
            count, window = data.get(f"{field}_count"), data.get(f"{field}_window")
            return None if count is None and window is None else (count, window)

        return {
            "triggers": data.get("triggers") or [],
            "frequency": pair("frequency"),
            "users": pair("users"),
            "environment": data.get("environment") or "",
            "min_level": data.get("min_level") or "",
            "release": data.get("release") or "",
            "tag_filters": parse_tag_lines(data.get("tag_filters") or ""),
            "throttle_minutes": 30
            if data.get("throttle_minutes") is None
            else data["throttle_minutes"],
            "channels": [int(c) for c in data.get("channels") or []],
        }

    def refuse(self, exc: ConfigError) -> None:
        target = {
            "frequency": "frequency_count",
            "users": "users_count",
            "throttle": "throttle_minutes",
        }
        name = target.get(exc.setting, exc.setting)
        self.add_error(name if name in self.fields else None, f"{exc.setting}: {exc.message}")


def rule_initial(rule: AlertRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "enabled": rule.enabled,
        "triggers": list(rule.triggers),
        "frequency_count": rule.frequency_count,
        "frequency_window": rule.frequency_window,
        "users_count": rule.users_count,
        "users_window": rule.users_window,
        "environment": rule.environment,
        "min_level": rule.min_level,
        "release": rule.release,
        "tag_filters": tag_lines(list(rule.tag_filters)),
        "throttle_minutes": rule.throttle_minutes,
        "channels": [str(c.id) for c in rule.channels.all()],
    }


def _project(request: HttpRequest, org: str, project: str) -> tuple[Project, Access]:
    return get_project_access(request, org, project, scope="project:read")


def _rule_page(
    request: HttpRequest,
    template: str,
    proj: Project,
    access: Access,
    status: int = 200,
    **ctx: Any,
) -> HttpResponse:
    context = {
        "org": access.organization,
        "access": access,
        "project": proj,
        "can_change": access.can(RULE_WRITE, proj),
        **ctx,
    }
    return render(request, f"tracehound/alerts/{template}", context, status=status)


@login_required
@require_GET
def rule_list(request: HttpRequest, org: str, project: str) -> HttpResponse:
    proj, access = _project(request, org, project)
    rules = AlertRule.objects.filter(project=proj).prefetch_related("channels").order_by("name")
    return _rule_page(request, "rules.html", proj, access, rules=rules[:500])


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(
    request: HttpRequest, org: str, project: str, rule_id: int | None = None
) -> HttpResponse:
    proj, access = _project(request, org, project)
    rule = None
    if rule_id is not None:
        rule = AlertRule.objects.filter(pk=rule_id, project=proj).first()
        if rule is None:
            raise Http404("alert rule not found")
        rule.project = proj
    can_change = access.can(RULE_WRITE, proj)
    if (request.method == "POST" or rule is None) and not can_change:
        return forbidden(request, access, RULE_WRITE)
    if request.method == "POST":
        form = RuleForm(request.POST, project=proj)
        if form.is_valid():
            try:
                saved = save_rule(request, access, proj, rule, form)
            except ConfigError as exc:
                form.refuse(exc)
            else:
                messages.success(request, f"Alert rule {saved.name} saved.")
                return redirect("alert-rules", org=access.organization.slug, project=proj.slug)
        return _rule_page(request, "rule_form.html", proj, access, 400, form=form, rule=rule)
    initial = rule_initial(rule) if rule is not None else None
    form = RuleForm(initial=initial, project=proj)
    if not can_change:
        for field in form.fields.values():
            field.disabled = True
    return _rule_page(request, "rule_form.html", proj, access, form=form, rule=rule)


def save_rule(
    request: HttpRequest, access: Access, proj: Project, rule: AlertRule | None, form: RuleForm
) -> AlertRule:
    values = form.values()
    name = form.cleaned_data.get("name") or ""
    enabled = bool(form.cleaned_data.get("enabled"))
    if rule is None:
        rule = rule_actions.create_rule(proj, name, actor=access.actor, request=request, **values)
        if not enabled:
            rule_actions.update_rule(rule, enabled=False, actor=access.actor, request=request)
        return rule
    return rule_actions.update_rule(
        rule, name=name, enabled=enabled, actor=access.actor, request=request, **values
    )


@login_required
@require_POST
def rule_action(
    request: HttpRequest, org: str, project: str, rule_id: int, action: str
) -> HttpResponse:
    proj, access = _project(request, org, project)
    rule = AlertRule.objects.filter(pk=rule_id, project=proj).first()
    if rule is None:
        raise Http404("alert rule not found")
    rule.project = proj
    if not access.can(RULE_WRITE, proj):
        return forbidden(request, access, RULE_WRITE)
    if action == "delete":
        rule_actions.delete_rule(rule, actor=access.actor, request=request)
        messages.success(request, f"Alert rule {rule.name} deleted.")
    else:
        rule_actions.update_rule(
            rule, enabled=action == "enable", actor=access.actor, request=request
        )
        messages.success(request, f"Alert rule {rule.name} {action}d.")
    return redirect("alert-rules", org=access.organization.slug, project=proj.slug)
