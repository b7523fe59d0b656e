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
    ("input/" + "k" * 256, "last segment is 256 bytes, more than the 255"),
    ("\U0001f600" * 64, "last segment is 256 bytes"),
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


def test_the_longest_file_name_fits_and_is_really_writable(tmp_path):
    path = local_path_for_key(tmp_path, "input/" + "n" * 255)
    path.write_bytes(b"ok")
    assert path.read_bytes() == b"ok"


def test_a_path_over_path_max_is_rejected_before_the_file_system_fails(tmp_path):
    deep = tmp_path
    while len(str(deep)) < 3900:
        deep = deep / ("d" * 200)
    with pytest.raises(BadRequest, match="over the 4096 bytes a path can have"):
        local_path_for_key(deep, "input/" + "n" * 200)


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
