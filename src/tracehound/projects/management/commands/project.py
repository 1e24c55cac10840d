import re
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracehound.projects.actions import create_project

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


class Command(BaseCommand):
    help = "Manage projects. `project create ORG/PROJECT` prints the project's DSN."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create an organization and project if needed")
        create.add_argument("name", help="ORG/PROJECT, lowercase slugs")
        create.add_argument("--json", action="store_true")
        create.add_argument("--platform", default="")
        create.add_argument("--owner", help="username to make an owner of the organization")

    def handle(self, *args: Any, **options: Any) -> None:
        org_slug, sep, project_slug = options["name"].partition("/")
        if not sep or not SLUG.match(org_slug) or not SLUG.match(project_slug):
            raise CommandError(
                f"expected ORG/PROJECT with lowercase slugs (a-z, 0-9, -, _), got {options['name']!r}"
            )
        owner = None
        if options["owner"]:
            try:
                owner = get_user_model().objects.get(username=options["owner"])
            except get_user_model().DoesNotExist:
                raise CommandError(f"no user named {options['owner']!r}") from None
        project, key = create_project(
            org_slug, project_slug, platform=options["platform"], owner=owner
        )
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
