from typing import Any

import orjson
from django.core.management.base import CommandError, CommandParser

from tracehound.accounts.access import ROLES
from tracehound.accounts.models import GroupMapping, SsoProvider
from tracehound.accounts.sso import ENV_SLUG, all_providers
from tracehound.accounts.sso_mapping import remove_group_mapping, set_group_mapping
from tracehound.lib.command import OperatorCommand
from tracehound.projects.models import Organization, Team


class Command(OperatorCommand):
    help = (
        "Single sign-on. `sso info` lists the providers and the redirect URI to register at"
        " each; `sso map ORG GROUP --role ROLE [--team TEAM]...` maps a group of the groups"
        " claim to a role and teams; `sso unmap ORG GROUP`; `sso mappings ORG`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        info = sub.add_parser("info", help="the providers and their redirect URIs")
        info.add_argument("--json", action="store_true")
        mapping = sub.add_parser("map", help="create or replace a group mapping")
        mapping.add_argument("org")
        mapping.add_argument("group")
        mapping.add_argument("--role", required=True, choices=ROLES)
        mapping.add_argument("--team", action="append", default=[], help="a team slug")
        mapping.add_argument("--provider", default="", help="only for this provider's logins")
        unmap = sub.add_parser("unmap", help="remove a group mapping")
        unmap.add_argument("org")
        unmap.add_argument("group")
        unmap.add_argument("--provider", default="")
        listing = sub.add_parser("mappings", help="list an organization's group mappings")
        listing.add_argument("org")
        listing.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"handle_{options['action']}")(options)

    def get_org(self, slug: str) -> Organization:
        try:
            return Organization.objects.get(slug=slug)
        except Organization.DoesNotExist:
            raise CommandError(f"no organization {slug!r}") from None

    def handle_info(self, options: dict[str, Any]) -> None:
        providers = [
            {"slug": p.slug, "name": p.name, "issuer": p.issuer, "redirect_uri": p.redirect_uri}
            for p in all_providers()
        ]
        if options["json"]:
            self.stdout.write(orjson.dumps({"providers": providers}).decode())
            return
        if not providers:
            self.stdout.write("No provider: set TRACEHOUND_OIDC_ISSUER (see README.md).")
        for p in providers:
            self.stdout.write(
                f"{p['name']} ({p['slug']})\n  issuer:       {p['issuer']}\n"
                f"  redirect URI: {p['redirect_uri']}"
            )

    def handle_map(self, options: dict[str, Any]) -> None:
        org = self.get_org(options["org"])
        provider = options["provider"]
        known = [
            ENV_SLUG,
            *SsoProvider.objects.filter(organization=org).values_list("slug", flat=True),
        ]
        if provider and provider not in known:
            raise CommandError(
                f"--provider: no provider {provider[:100]!r} for {org.slug} (use one of"
                f" {', '.join(sorted(known))}, or leave it out for any provider)"
            )
        teams = []
        for slug in options["team"]:
            team = Team.objects.filter(organization=org, slug=slug).first()
            if team is None:
                raise CommandError(f"no team {slug!r} in {org.slug}")
            teams.append(team)
        try:
            set_group_mapping(
                org,
                options["group"],
                options["role"],
                teams,
                provider_slug=options["provider"],
                actor_label="cli",
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        on = f" and teams {', '.join(options['team'])}" if teams else ""
        self.stdout.write(f"Group {options['group']!r} → {options['role']} in {org.slug}{on}")

    def handle_unmap(self, options: dict[str, Any]) -> None:
        org = self.get_org(options["org"])
        mapping = GroupMapping.objects.filter(
            organization=org, group=options["group"], provider_slug=options["provider"]
        ).first()
        if mapping is None:
            raise CommandError(f"no mapping of group {options['group']!r} in {org.slug}")
        remove_group_mapping(mapping, actor_label="cli")
        self.stdout.write(f"Removed the mapping of {options['group']!r} in {org.slug}")

    def handle_mappings(self, options: dict[str, Any]) -> None:
        org = self.get_org(options["org"])
        rows = [
            {
                "group": m.group,
                "provider": m.provider_slug,
                "role": m.role,
                "teams": sorted(t.slug for t in m.teams.all()),
            }
            for m in org.group_mappings.prefetch_related("teams").order_by("provider_slug", "group")
        ]
        if options["json"]:
            self.stdout.write(orjson.dumps({"mappings": rows}).decode())
            return
        for r in rows:
            teams = " ".join(f"#{t}" for t in r["teams"]) or "-"
            self.stdout.write(f"{r['group']}  {r['provider'] or 'any'}  {r['role']}  {teams}")
