"""Object keys are untrusted: hostile ones are rejected, none escapes the invocation's folder."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scar_ci.supervisor.errors import BadRequest
from scar_ci.supervisor.keys import check_object_key, local_path_for_key, output_key

HOSTILE = [
    ("../../etc/passwd", "'..' segment"),
    ("input/../../x", "'..' segment"),
    ("/etc/passwd", "absolute"),
    ("input/a\x00b", "control character"),
    ("input/a\nb", "control character"),
    ("input/./x", "'.' or '..' segment"),
    ("input/", "folder"),
    ("", "empty"),
    ("a\\..\\b", "backslash"),
    ("k" * 1025, "longer than"),
]


@pytest.mark.parametrize(("key", "reason"), HOSTILE)
def test_hostile_keys_are_rejected_with_the_reason(key, reason):
    with pytest.raises(BadRequest, match="rejected") as caught:
        check_object_key(key)
    assert reason in str(caught.value)


@pytest.mark.parametrize("key", ["input/photo.png", "a b+c.txt", "dir/sub/ü.jpg", "x..y/z..png"])
def test_plain_keys_pass(key):
    assert check_object_key(key) == key


def test_the_local_file_is_the_last_segment_inside_the_folder(tmp_path):
    assert local_path_for_key(tmp_path, "input/sub/photo.png") == tmp_path / "photo.png"


@given(st.text(max_size=60))
def test_no_key_ever_names_a_file_outside_the_folder(key):
    folder = Path("/tmp/scar-invocation/input")
    try:
        path = local_path_for_key(folder, key)
    except BadRequest:
        return
    assert path.parent == folder
    assert path.name not in ("", ".", "..")


def test_output_keys_follow_scar_layout():
    assert output_key("bucket/out", "a/b.txt", "fn", "req") == ("bucket", "out/a/b.txt")
    assert output_key("/bucket/out/deep/", "b.txt", "fn", "req") == ("bucket", "out/deep/b.txt")
    assert output_key("bucket", "b.txt", "fn", "req") == ("bucket", "fn/output/req/b.txt")


def test_output_file_names_are_checked_too():
    with pytest.raises(BadRequest):
        output_key("bucket/out", "bad\nname", "fn", "req")
