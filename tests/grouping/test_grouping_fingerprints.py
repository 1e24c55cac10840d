"""SDK fingerprints replace the default grouping, or refine it with {{ default }}."""

import hashlib

import pytest

from tracehound.grouping import group_event


def md5(*values: str) -> str:
    return hashlib.md5("".join(values).encode()).hexdigest()


def event(**extra):
    data = {
        "platform": "python",
        "level": "error",
        "logger": "shop.payments",
        "transaction": "/checkout/",
        "tags": [["region", "eu"], ["browser", "Firefox"]],
        "exception": {
            "values": [
                {
                    "type": "TimeoutError",
                    "value": "gateway 7 timed out after 30s",
                    "stacktrace": {
                        "frames": [
                            {
                                "module": "shop.payments",
                                "function": "charge",
                                "package": "/srv/shop",
                                "context_line": "gateway.charge(card)",
                                "in_app": True,
                            }
                        ]
                    },
                }
            ]
        },
    }
    data.update(extra)
    return data


def test_a_plain_fingerprint_replaces_the_default_grouping():
    assert group_event(event(fingerprint=["payments", "timeout"])).hashes == [
        md5("payments", "timeout")
    ]


def test_events_with_the_same_fingerprint_group_together_whatever_their_stack():
    other = event(fingerprint=["payments"], exception={"values": [{"type": "KeyError"}]})
    assert group_event(other).hashes == group_event(event(fingerprint=["payments"])).hashes


def test_a_fingerprint_of_only_default_is_the_default_grouping():
    assert group_event(event(fingerprint=["{{ default }}"])).hashes == group_event(event()).hashes


def test_fingerprint_with_default_keeps_the_default_group_separate_from_plain():
    plain = group_event(event()).hashes
    hybrid = group_event(event(fingerprint=["{{ default }}", "eu"])).hashes
    assert hybrid != plain
    assert hybrid == [md5("shop.payments", "charge", "gateway.charge(card)", "TimeoutError", "eu")]


def test_default_without_spaces_is_recognised():
    spaced = group_event(event(fingerprint=["{{ default }}", "x"])).hashes
    assert group_event(event(fingerprint=["{{default}}", "x"])).hashes == spaced


def test_hybrid_fingerprints_keep_one_hash_per_default_variant():
    data = event(fingerprint=["{{ default }}", "x"])
    frames = data["exception"]["values"][0]["stacktrace"]["frames"]
    frames.insert(0, {"module": "gunicorn.worker", "function": "run", "in_app": False})
    assert len(group_event(data).hashes) == 2


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("{{ transaction }}", "/checkout/"),
        ("{{ type }}", "TimeoutError"),
        ("{{ error.type }}", "TimeoutError"),
        ("{{ error.value }}", "gateway <int> timed out after <duration>"),
        ("{{ function }}", "charge"),
        ("{{ module }}", "shop.payments"),
        ("{{ package }}", "/srv/shop"),
        ("{{ level }}", "error"),
        ("{{ logger }}", "shop.payments"),
        ("{{ tags.region }}", "eu"),
        ("{{tags.browser}}", "Firefox"),
    ],
)
def test_fingerprint_variables_resolve_from_the_event(variable, value):
    assert group_event(event(fingerprint=["x", variable])).hashes == [md5("x", value)]


@pytest.mark.parametrize(
    ("variable", "placeholder"),
    [
        ("{{ transaction }}", "<no-transaction>"),
        ("{{ logger }}", "<no-logger>"),
        ("{{ tags.missing }}", "<no-value-for-tag-missing>"),
    ],
)
def test_missing_fingerprint_variables_resolve_to_placeholders(variable, placeholder):
    data = event(fingerprint=[variable])
    data.pop("transaction")
    data.pop("logger")
    assert group_event(data).hashes == [md5(placeholder)]


def test_the_message_variable_uses_the_formatted_message():
    data = {"logentry": {"formatted": "disk full"}, "fingerprint": ["{{ message }}"]}
    assert group_event(data).hashes == [md5("disk full")]


def test_variables_inside_a_value_are_substituted():
    assert group_event(event(fingerprint=["pay-{{ transaction }}"])).hashes == [
        md5("pay-/checkout/")
    ]


def test_unknown_variables_stay_as_written():
    assert group_event(event(fingerprint=["{{ nope }}"])).hashes == [md5("{{ nope }}")]


def test_non_string_fingerprint_entries_are_stringified():
    assert group_event(event(fingerprint=["a", 42, 1.0, True])).hashes == [
        md5("a", "42", "1", "True")
    ]


def test_a_fingerprint_equal_to_the_exception_value_is_parameterized():
    first = event(fingerprint=["gateway 7 timed out after 30s"])
    second = event(fingerprint=["gateway 9 timed out after 5s"])
    second["exception"]["values"][0]["value"] = "gateway 9 timed out after 5s"
    assert group_event(first).hashes == group_event(second).hashes


def test_a_fingerprint_does_not_change_the_title_or_culprit():
    plain = group_event(event())
    custom = group_event(event(fingerprint=["x"]))
    assert (custom.title, custom.culprit, custom.type) == (plain.title, plain.culprit, plain.type)


def test_fingerprint_variables_read_the_main_exception_of_an_exception_group():
    # Two alike ValueErrors, each caused by a KeyError: the main exception (title,
    # culprit) is the first ValueError, though a KeyError comes last in the list.
    def exc(type_, exception_id, parent_id=None, group=False):
        mechanism = {"type": "chained", "exception_id": exception_id, "is_exception_group": group}
        if parent_id is not None:
            mechanism["parent_id"] = parent_id
        return {"type": type_, "value": "x", "mechanism": mechanism}

    values = [
        exc("ExceptionGroup", 0, group=True),
        exc("ValueError", 1, 0),
        exc("ValueError", 2, 0),
        exc("KeyError", 3, 1),
        exc("KeyError", 4, 2),
    ]
    data = {"platform": "python", "exception": {"values": values}}
    result = group_event({**data, "fingerprint": ["{{ error.type }}"]})
    assert result.title.startswith("ValueError")
    assert result.hashes == group_event({**data, "fingerprint": ["ValueError"]}).hashes
