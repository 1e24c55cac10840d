"""The benchmark seeder digests through the real pipeline; it must keep up with its API."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import seed  # noqa: E402
from tracehound.events.models import Event  # noqa: E402
from tracehound.projects.models import Project  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)


def test_seed_project_digests_and_stores_through_the_worker_code() -> None:
    # Before: seed_project passed the grouping version as a str where digest now takes
    # a ProjectGrouping, and seeding died with AttributeError on its first chunk.
    result = seed.seed_project(seed.Plan(events=40, issues=5, end=time.time()), processes=1)
    assert result["events"] == 40
    project = Project.objects.get(organization__slug=seed.ORG, slug=seed.PROJECT)
    assert Event.objects.filter(project=project).count() == 40
    assert 1 <= project.issues.count() <= 5
