"""The command parts that need no AWS: requests as the supervisor reads them, flag parsing,
destination paths for untrusted keys, log filters, body limits, progress."""

from __future__ import annotations

import argparse
import base64
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scar_ci.commands.fanout import s3_event
from scar_ci.commands.http import Request, decoded, request_of
from scar_ci.commands.invocation import direct_payload, invoke, parse_variables, quoted
from scar_ci.commands.logs import RequestFilter, since_ms
from scar_ci.commands.output import Progress
from scar_ci.commands.storage import _files_under, _inside, bucket_path
from scar_ci.errors import UsageError
from scar_ci.supervisor.events import parse_event


@pytest.mark.parametrize("key", ["input/plain.txt", "input/a b+c&d=e%f.txt", "input/ü/ñ.txt"])
def test_fan_out_events_name_the_key_the_supervisor_downloads(key: str) -> None:
    [job] = parse_event(s3_event("bucket-1", key))
    assert (job.kind, job.stored_object.bucket, job.stored_object.key) == ("s3", "bucket-1", key)


def test_a_direct_request_reaches_the_supervisor_as_sent(tmp_path: Path) -> None:
    script = tmp_path / "s.sh"
    script.write_bytes(b"echo \xff binary-safe\n")
    payload = direct_payload(script, ["df", "-h"], {"A": "x=y"})
    [job] = parse_event(payload)
    assert (job.kind, job.script, job.cmd_args, job.env) == (
        "direct", script.read_bytes(), ["df", "-h"], {"A": "x=y"})
    assert direct_payload(None, [], {}) == {}


def test_a_script_or_body_too_big_for_a_request_is_refused_without_reading_it_all() -> None:
    with pytest.raises(UsageError, match="Lambda accepts at most 6144 KiB per invocation"):
        invoke(None, "f", direct_payload(Path("/dev/zero"), [], {}))  # type: ignore[arg-type]
    args = argparse.Namespace(parameters=[], asynchronous=False, data_binary="/dev/zero",
                              json_data=None)
    with pytest.raises(UsageError, match=r"API Gateway accepts at most 10\.0 MiB"):
        request_of(args).check()


def test_variables_keep_equals_signs_and_refuse_bad_names() -> None:
    assert parse_variables(["A=b=c", "B=", "_c1=x y"], "-e") == {"A": "b=c", "B": "", "_c1": "x y"}
    for bad in ("NOEQUALS", "=v", "1A=v", "A-B=v"):
        with pytest.raises(UsageError, match="expected NAME=VALUE"):
            parse_variables([bad], "-e")


def test_the_example_in_a_bad_pair_message_uses_the_flag_given() -> None:
    with pytest.raises(UsageError, match=r"\(e\.g\. -p MODE=gray\)$"):
        parse_variables(["noequals"], "-p")


def test_bucket_paths() -> None:
    assert bucket_path("b/x/y/") == ("b", "x/y")
    assert bucket_path("s3://b") == ("b", "")
    with pytest.raises(UsageError):
        bucket_path("/")


@pytest.mark.parametrize("text", ["a b", "a b/x", "s3://bü/x", "x\ny"])
def test_what_cannot_be_a_bucket_name_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        bucket_path(text)
    bucket = text.removeprefix("s3://").partition("/")[0]
    assert str(caught.value) == (f"-b {text!r}: {bucket!r} is not a bucket name "
                                 "(ASCII letters, digits, '.', '-' and '_')")


def test_put_of_a_folder_sends_its_regular_files_and_no_link_out_of_it(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("a")
    (tmp_path / "secret").symlink_to("/proc/self/environ")
    (tmp_path / "sub" / "alias").symlink_to(tmp_path / "sub" / "a.txt")
    said: list[str] = []
    assert list(_files_under(tmp_path, said.append)) == [tmp_path / "sub" / "a.txt"]
    assert said == [f"skipped {tmp_path / 'secret'}: not a regular file (links are not followed)",
                    f"skipped {tmp_path / 'sub' / 'alias'}: not a regular file "
                    "(links are not followed)"]


@pytest.mark.parametrize("key", ["../x", "a/../../x", "a//b", "/abs", "a\\..\\x", "a/./b", ""])
def test_keys_that_would_leave_the_destination_are_refused(tmp_path: Path, key: str) -> None:
    assert _inside(tmp_path, key) is None


def test_plain_keys_land_under_the_destination(tmp_path: Path) -> None:
    assert _inside(tmp_path, "a/b c/d.txt") == tmp_path / "a" / "b c" / "d.txt"
    (tmp_path / "link").symlink_to("/etc")
    assert _inside(tmp_path, "link/passwd") is None


def test_since_takes_ages_and_times() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert since_ms("90s", now) == int(now.timestamp() * 1000) - 90_000
    assert since_ms("2h", now) == int(now.timestamp() * 1000) - 7_200_000
    assert since_ms("2026-01-01T00:00:00", now) == int(
        datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
    with pytest.raises(UsageError, match="expected an age"):
        since_ms("yesterday", now)


def test_a_request_filter_keeps_its_request_in_its_stream_only() -> None:
    events = [("s1", "START RequestId: other"), ("s1", "noise"),
              ("s2", "START RequestId: abc Version: $LATEST"), ("s1", "more noise"),
              ("s2", "output line"), ("s2", "END RequestId: abc"),
              ("s2", "REPORT RequestId: abc Duration: 1 ms"), ("s2", "after")]
    request = RequestFilter("abc")
    kept = [m for s, m in events if request.keep({"logStreamName": s, "message": m})]
    assert kept == [m for _, m in events[2:3] + events[4:7]]
    assert request.finished


def test_api_output_is_decoded_only_when_it_is_base64() -> None:
    assert decoded(base64.b64encode(b"\x00\xffraw")) == b"\x00\xffraw"
    assert decoded(b"not base64!\n") == b"not base64!\n"


def test_bodies_over_the_limits_are_refused_before_sending() -> None:
    Request(body=b"x" * (10 * 2**20)).check()
    with pytest.raises(UsageError, match=r"API Gateway accepts at most 10\.0 MiB"):
        Request(body=b"x" * (10 * 2**20 + 1)).check()
    with pytest.raises(UsageError, match="asynchronous request accepts at most 256 KiB"):
        Request(body=b"x" * (256 * 1024 + 1), asynchronous=True).check()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_line_every_tenth_in_logs_and_a_bar_in_a_terminal() -> None:
    log = io.StringIO()
    progress = Progress("sent", 25, log)
    for done in range(1, 26):
        progress(done, "0 failed")
    assert log.getvalue().splitlines() == [f"sent {n}/25, 0 failed"
                                           for n in [*range(2, 25, 2), 25]]
    terminal = _Terminal()
    progress = Progress("sent", 4, terminal)
    for done in range(1, 5):
        progress(done)
    assert terminal.getvalue().count("\r") == 4 and terminal.getvalue().endswith(
        f"\rsent [{'#' * 30}] 4/4 \n")


def test_others_lines_in_a_message_are_set_off() -> None:
    assert quoted("one") == "one"
    assert quoted("failed: x\n::error::y\n") == "failed: x\n  | ::error::y"
