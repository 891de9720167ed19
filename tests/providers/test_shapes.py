"""Unknown payload shapes are logged once per shape, with field names and never values."""

from __future__ import annotations

import uuid

from structlog.testing import capture_logs

from textbridge.providers.shapes import note_unknown_shape, unknown_shape_count


def test_a_shape_is_logged_once_with_its_field_names_only() -> None:
    what = f"test shape {uuid.uuid4()}"
    payload = {"Secretish": "do-not-log-me", "Other": "x"}

    with capture_logs() as logs:
        assert note_unknown_shape("plivo", what, payload) is True
        assert note_unknown_shape("plivo", what, {"Other": "y", "Secretish": "z"}) is False
        assert note_unknown_shape("plivo", what, {"Other": "y"}) is True  # another shape

    noted = [entry for entry in logs if entry["event"] == "provider.unknown_shape"]
    assert [entry["fields"] for entry in noted] == [["Other", "Secretish"], ["Other"]]
    assert "do-not-log-me" not in repr(logs)
    assert unknown_shape_count("plivo", what, payload) == 2
