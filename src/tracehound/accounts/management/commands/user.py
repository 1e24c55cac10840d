import getpass
import os
import sys
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from tracehound.accounts.access import ROLES
from tracehound.lib.command import OperatorCommand
from tracehound.projects import membership
from tracehound.projects.membership import MembershipError
from tracehound.projects.models import Organization, OrganizationMember, Team

PASSWORD_VARIABLE = "TRACEHOUND_USER_PASSWORD"


class Command(OperatorCommand):
    help = (
        "Manage users. `user create USERNAME --email EMAIL [--org ORG --role ROLE]"
        " [--team TEAM]...` makes a user (see --superuser); the password comes from"
        f" {PASSWORD_VARIABLE}, --password-stdin or a prompt."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a user")
        create.add_argument("username")
        create.add_argument("--email", default="")
        create.add_argument(
            "--org",
            help="make the user a member of this organization (created if missing, for"
            " an owner: the first set-up)",
        )
        create.add_argument("--role", choices=ROLES, help="their role in --org (member)")
        create.add_argument(
            "--team", action="append", default=[], help="a team of --org (may be repeated)"
        )
        create.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )
        create.add_argument(
            "--superuser",
            action="store_true",
            help="an administrator, who sees every organization",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        user = User(username=options["username"], email=options["email"])
        user.is_superuser = user.is_staff = options["superuser"]
        try:
            user.full_clean(exclude=["password"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        org_slug, role, team_slugs = options["org"], options["role"], options["team"]
        if (role or team_slugs) and not org_slug:
            raise CommandError("--role and --team need --org")
        role = role or "member"
        org = Organization.objects.filter(slug=org_slug).first() if org_slug else None
        if org_slug and org is None and role != "owner":
            raise CommandError(
                f"no organization {org_slug!r} (it is created only for its first owner:"
                " add --role owner)"
            )
        if org_slug and org is None:
            try:  # as `org create` checks it (reserved paths, form), before anything is made
                membership.validate_organization_slug(org_slug)
            except MembershipError as exc:
                raise CommandError(f"--org: {exc.message}") from None
        teams = [self.get_team(org, slug) for slug in dict.fromkeys(team_slugs)] if org else []
        if team_slugs and org is None:
            raise CommandError(f"no team {team_slugs[0]!r}: the organization is new")
        password = self.read_password(options["password_stdin"])
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("password refused: " + " ".join(exc.messages)) from None
        user.set_password(password)
        with transaction.atomic():
            if User.objects.filter(username=user.username).exists():
                raise CommandError(f"a user named {user.username!r} already exists")
            if user.email and EmailAddress.objects.filter(email__iexact=user.email).exists():
                raise CommandError(f"another user has the address {user.email}")
            user.save()
            if user.email:
                # The operator vouches for it: no verification email.
                EmailAddress.objects.create(
                    user=user, email=user.email, verified=True, primary=True
                )
            if org_slug:
                # Through projects/membership.py: each step writes its audit entry
                # (org.create, member.add, team.member), by "command line".
                try:
                    if org is None:
                        org = membership.create_organization(org_slug, owner=user)
                        member = OrganizationMember.objects.get(organization=org, user=user)
                    else:
                        member = membership.add_member(None, org, user, role)
                    for team in teams:
                        membership.add_team_member(None, team, member)
                except MembershipError as exc:
                    raise CommandError(f"{exc.field}: {exc.message}") from None
        if user.is_superuser:
            self.stdout.write(f"Created superuser {user.username} (sees every organization)")
        elif org is not None:
            where = f" in {', '.join('#' + t.slug for t in teams)}" if teams else ""
            self.stdout.write(f"Created user {user.username}, {role} of {org.slug}{where}")
        else:
            self.stdout.write(
                f"Created user {user.username}. Give them a project with"
                f" `tracehound project create ORG/PROJECT --owner {user.username}`"
            )

    def get_team(self, org: Organization, slug: str) -> Team:
        team = Team.objects.filter(organization=org, slug=slug).first()
        if team is None:
            raise CommandError(f"no team {slug!r} in {org.slug}")
        return team

    def read_password(self, from_stdin: bool) -> str:
        if from_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        elif os.environ.get(PASSWORD_VARIABLE):
            password = os.environ[PASSWORD_VARIABLE]
        elif sys.stdin.isatty():
            password = getpass.getpass("Password: ")
            if getpass.getpass("Password (again): ") != password:
                raise CommandError("the passwords did not match")
        else:
            raise CommandError(
                f"no terminal to ask for a password: set {PASSWORD_VARIABLE} or use"
                " --password-stdin"
            )
        if not password:
            raise CommandError("the password is empty")
        return password
