import re
import sys
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from tracehound.lib.command import OperatorCommand
from tracehound.projects import membership
from tracehound.projects.actions import create_project
from tracehound.projects.grouping import (
    DEFAULT_TRANSITION_DAYS,
    UNSET,
    GroupingChange,
    InvalidGroupingSetting,
    change_project_grouping,
)
from tracehound.projects.management import lookup
from tracehound.projects.membership import MembershipError, give_project_to_team
from tracehound.projects.models import Organization, OrganizationMember, Project

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


class Command(OperatorCommand):
    help = (
        "Manage projects. `project create ORG/PROJECT` prints the project's DSN;"
        " `project rules` and `project grouping` change how its events group."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create an organization and project if needed")
        create.add_argument("name", help="ORG/PROJECT, lowercase slugs")
        create.add_argument("--json", action="store_true")
        create.add_argument("--platform", default="")
        create.add_argument("--owner", help="username to make an owner of the organization")
        create.add_argument("--team", help="give this team (of the organization) the project")
        rules = sub.add_parser(
            "rules",
            help="show or set the fingerprint and stack-trace rules (Sentry's syntax)",
            description="Without files, print the rules. A file of '-' is read from stdin;"
            " an empty file clears the rules. Rules are validated before anything is saved.",
        )
        rules.add_argument("name", help="ORG/PROJECT")
        rules.add_argument("--fingerprint-file", type=Path, metavar="F")
        rules.add_argument("--stacktrace-file", type=Path, metavar="F")
        grouping = sub.add_parser(
            "grouping",
            help="switch the grouping version; the old one stays looked up for a transition",
        )
        grouping.add_argument("name", help="ORG/PROJECT")
        grouping.add_argument("version", help="grouping config, e.g. newstyle:2023-01-11")
        grouping.add_argument(
            "--transition-days",
            type=int,
            default=DEFAULT_TRANSITION_DAYS,
            metavar="N",
            help="days the previous version's hashes keep being looked up (default 30, 0: none)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        org_slug, project_slug = split_name(options["name"])
        if options["action"] == "rules":
            self.rules(find_project(org_slug, project_slug), options)
        elif options["action"] == "grouping":
            self.grouping(find_project(org_slug, project_slug), options)
        else:
            self.create(org_slug, project_slug, options)

    @transaction.atomic
    def create_missing(self, org_slug: str, project_slug: str, platform: str, owner: Any) -> None:
        """What is missing (organization, owner's membership, project), made through
        projects/membership.py: checked as `org create` checks it, with audit entries."""
        org = Organization.objects.filter(slug=org_slug).first()
        if org is None:
            org = membership.create_organization(org_slug, owner=owner)
        elif (
            owner is not None
            and not OrganizationMember.objects.filter(organization=org, user=owner).exists()
        ):
            membership.add_member(None, org, owner, "owner")
        if not Project.objects.filter(organization=org, slug=project_slug).exists():
            membership.create_project(None, org, project_slug, platform=platform)

    def rules(self, project: Project, options: dict[str, Any]) -> None:
        fingerprint_file = options["fingerprint_file"]
        stacktrace_file = options["stacktrace_file"]
        if fingerprint_file is None and stacktrace_file is None:
            self.stdout.write("# Fingerprint rules")
            self.stdout.write(project.fingerprint_rules.rstrip("\n"))
            self.stdout.write("# Stack-trace rules")
            self.stdout.write(project.stacktrace_rules.rstrip("\n"))
            return
        change = GroupingChange(
            fingerprint_rules=read_rules(fingerprint_file) if fingerprint_file else UNSET,
            stacktrace_rules=read_rules(stacktrace_file) if stacktrace_file else UNSET,
        )
        save(project, change)
        self.stdout.write(f"Saved the grouping rules of {project.organization.slug}/{project.slug}")

    def grouping(self, project: Project, options: dict[str, Any]) -> None:
        change = GroupingChange(
            grouping_version=options["version"], transition_days=options["transition_days"]
        )
        project = save(project, change)
        line = f"Grouping of {project.organization.slug}/{project.slug}: {project.grouping_version}"
        if project.secondary_grouping_version and project.secondary_grouping_expiry:
            expiry = project.secondary_grouping_expiry.isoformat(timespec="seconds")
            line += f" (also {project.secondary_grouping_version} until {expiry})"
        self.stdout.write(line)

    def create(self, org_slug: str, project_slug: str, options: dict[str, Any]) -> None:
        owner = None
        if options["owner"]:
            try:
                owner = get_user_model().objects.get(username=options["owner"])
            except get_user_model().DoesNotExist:
                raise CommandError(f"no user named {options['owner']!r}") from None
        if options["team"]:
            org = Organization.objects.filter(slug=org_slug).first()
            if org is None:
                raise CommandError(f"no organization {org_slug!r} (create it and the team first)")
            team = lookup.team(org, options["team"])
        try:
            self.create_missing(org_slug, project_slug, options["platform"], owner)
        except MembershipError as exc:
            raise lookup.refused(exc) from None
        project, key = create_project(
            org_slug, project_slug, platform=options["platform"], owner=owner
        )
        if options["team"]:
            give_project_to_team(None, team, project)
        dsn = key.dsn()
        if options["json"]:
            self.stdout.write(
                orjson.dumps(
                    {
                        "dsn": dsn,
                        "project_id": project.id,
                        "public_key": key.public_key,
                        "org": org_slug,
                        "project": project_slug,
                        **({"team": options["team"]} if options["team"] else {}),
                    }
                ).decode()
            )
        else:
            self.stdout.write(f"Project {org_slug}/{project_slug} (id {project.id})")
            self.stdout.write(f"DSN: {dsn}")
            if settings.BASE_URL_IS_SET:
                self.stdout.write(f"(for BASE_URL {settings.BASE_URL})")
            else:
                self.stdout.write(
                    f"(for BASE_URL {settings.BASE_URL}, from TRACEHOUND_HOST and"
                    " TRACEHOUND_PORT; set BASE_URL to the URL that SDKs reach this server at)"
                )


def split_name(name: str) -> tuple[str, str]:
    org_slug, sep, project_slug = name.partition("/")
    if not sep or not SLUG.match(org_slug) or not SLUG.match(project_slug):
        raise CommandError(
            f"expected ORG/PROJECT with lowercase slugs (a-z, 0-9, -, _), got {name!r}"
        )
    return org_slug, project_slug


def find_project(org_slug: str, project_slug: str) -> Project:
    project = (
        Project.objects.select_related("organization")
        .filter(organization__slug=org_slug, slug=project_slug)
        .first()
    )
    if project is None:
        raise CommandError(f"no project {org_slug}/{project_slug}")
    return project


def read_rules(path: Path) -> str:
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
        return data.decode("utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text") from None


def save(project: Project, change: GroupingChange) -> Project:
    try:
        saved = change_project_grouping(project, change)
    except InvalidGroupingSetting as exc:
        raise CommandError(f"{exc.field}: {exc.message}") from None
    saved.organization = project.organization
    return saved
