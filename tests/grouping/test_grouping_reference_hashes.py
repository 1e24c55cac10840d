"""Hashes that must match Sentry's own for the same event (reference §3, verified snapshot)."""

from tracehound.grouping import group_event

SYSTEM_HASH = "c5e4b4a9ad1803c4d4ca7feee5e430ae"
APP_HASH = "161ce02ecc5d6685a72e8e520ab726b3"


def dogpark_event(platform: str = "python") -> dict:
    return {
        "platform": platform,
        "exception": {
            "values": [
                {
                    "type": "FailedToFetchError",
                    "value": "Charlie didn't bring the ball back!",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "router.js",
                                "abs_path": "/srv/app/router.js",
                                "function": "handleRequest",
                                "context_line": "    return handler(request);",
                                "lineno": 18,
                                "in_app": False,
                            },
                            {
                                "filename": "dogpark.js",
                                "abs_path": "/srv/app/dogpark.js",
                                "function": "playFetch",
                                "context_line": (
                                    "  raise FailedToFetchError('Charlie didn't bring the ball back!');"
                                ),
                                "lineno": 7,
                                "in_app": True,
                            },
                        ]
                    },
                }
            ]
        },
    }


def test_the_system_hash_matches_sentrys_snapshot():
    assert SYSTEM_HASH in group_event(dogpark_event()).hashes


def test_the_app_hash_matches_sentrys_snapshot_and_comes_first():
    assert group_event(dogpark_event()).hashes == [APP_HASH, SYSTEM_HASH]


def test_the_reference_hashes_hold_for_javascript_frames_too():
    assert group_event(dogpark_event("node")).hashes == [APP_HASH, SYSTEM_HASH]


def test_the_exception_value_does_not_reach_the_hash_when_frames_contribute():
    event = dogpark_event()
    event["exception"]["values"][0]["value"] = "Rex didn't either"
    assert group_event(event).hashes == [APP_HASH, SYSTEM_HASH]
