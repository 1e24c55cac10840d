"""The default rule of a new project: email its members on new issues and regressions."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from tests.alerts.test_evaluate import digest_events, rows
from tests.issues.digesting import error
from tracehound.alerts import registry
from tracehound.alerts.base import Backend, Delivery, Notification, Sent, Setting
from tracehound.alerts.defaults import CHANNEL_NAME, RULE_NAME, ensure_default_rule
from tracehound.alerts.models import AlertRule, Channel
from tracehound.projects import membership
from tracehound.projects.actions import create_project
from tracehound.projects.models import Organization, Project

pytestmark = pytest.mark.django_db(transaction=True)


class StandInEmail(Backend):
    """TEST STAND-IN for the email backend (the chat branch ships the real one): the
    settings the default channel uses, nothing sent."""

    kind = "email"
    label = "Email (test stand-in)"
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("recipients", "Recipients", kind="choice", choices=(("members", "Members"),)),
    )

    def send(self, notification: Notification, delivery: Delivery) -> Sent:
        return Sent()


@pytest.fixture(autouse=True)
def default_rule_on(settings: Any) -> None:
    settings.TRACEHOUND_DEFAULT_ALERT_RULE = True  # tests/alerts/conftest.py turns it off


@pytest.fixture
def email(monkeypatch: pytest.MonkeyPatch) -> Any:
    if "email" not in registry.backends():  # the real one, once it lands, is used as is
        monkeypatch.setitem(registry.BUILTIN, "email", f"{__name__}:StandInEmail")
        registry.backends.cache_clear()
    yield
    registry.backends.cache_clear()


def test_a_new_project_gets_the_default_rule(email):
    project, _ = create_project("acme", "backend")
    rule = AlertRule.objects.get(project=project)
    assert (rule.name, rule.triggers, rule.throttle_minutes, rule.enabled) == (
        RULE_NAME,
        ["new_issue", "regression"],
        30,
        True,
    )
    [channel] = rule.channels.all()
    assert (channel.name, channel.kind, channel.config) == (
        CHANNEL_NAME,
        "email",
        {"recipients": "members"},
    )


def test_projects_of_one_organization_share_the_channel_and_it_is_idempotent(email):
    a, _ = create_project("acme", "a")
    b, _ = create_project("acme", "b")
    create_project("acme", "a")  # get_or_create: no second rule
    assert ensure_default_rule(a) == AlertRule.objects.get(project=a)
    assert AlertRule.objects.count() == 2
    assert Channel.objects.count() == 1
    assert {r.channels.get().pk for r in AlertRule.objects.all()} == {Channel.objects.get().pk}
    assert b.alert_rules.count() == 1


def test_projects_made_through_membership_get_it_too(email):
    org = Organization.objects.create(slug="acme", name="acme")
    project, _ = membership.create_project(None, org, "web")
    assert AlertRule.objects.get(project=project).name == RULE_NAME


def test_ensure_default_rule_makes_a_deleted_default_again(email):
    project, _ = create_project("acme", "backend")
    AlertRule.objects.all().delete()
    assert ensure_default_rule(project) is not None
    assert AlertRule.objects.count() == 1


def test_the_setting_turns_the_default_rule_off(email, settings):
    settings.TRACEHOUND_DEFAULT_ALERT_RULE = False
    project, _ = create_project("acme", "backend")
    assert ensure_default_rule(project) is None
    assert (AlertRule.objects.count(), Channel.objects.count()) == (0, 0)


def test_without_an_email_backend_no_rule_is_made(monkeypatch):
    if "email" in registry.backends():
        pytest.skip("the email backend is installed")
    project, _ = create_project("acme", "backend")
    assert ensure_default_rule(project) is None
    assert (AlertRule.objects.count(), Channel.objects.count()) == (0, 0)


def test_the_default_rule_notifies_on_a_new_issue(email, wsgi, digest_all):
    from tests.conftest import ProjectFixture

    proj, key = create_project("acme", "backend", platform="python")
    digest_events(wsgi, ProjectFixture(proj, key), digest_all, error())
    [n] = rows()
    assert (n.kind, n.channel.name) == ("issue.new", CHANNEL_NAME)
    assert Project.objects.count() == 1
