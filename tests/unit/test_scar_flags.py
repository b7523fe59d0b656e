"""Every flag of SCAR 4.3.1's parsers, kept here as data (scar/parser/cli/parents.py and
subparsers.py of grycap/scar at tag 4.3.1): scar-ci accepts each under both of SCAR's
spellings, as a switch or with a value as SCAR does, with SCAR's meaning, and a command line
made of all of them at once."""

from __future__ import annotations

import argparse
from functools import cache
from pathlib import Path

import pytest

from scar_ci.cli import build_parser
from scar_ci.commands.definition import definition_overrides

# (short, long, takes a value, where scar-ci keeps it: the attribute of the parsed arguments)
PROFILE = [("-pf", "--profile", True, "profile")]
OUTPUT = [("-j", "--json", False, "json"), ("-v", "--verbose", False, "verbose")]
EXEC = [("-a", "--asynchronous", False, "asynchronous"), ("-o", "--output-file", True, "output")]
STORAGE = [("-b", "--bucket", True, "bucket"), ("-p", "--path", True, "path")]
FUNCTION_DEFINITION = [
    ("-d", "--description", True, "description"), ("-e", "--environment", True, "environment"),
    ("-le", "--lambda-environment", True, "lambda_environment"),
    ("-m", "--memory", True, "memory"), ("-t", "--timeout", True, "timeout"),
    ("-tt", "--timeout-threshold", True, "timeout_threshold"),
    ("-ll", "--log-level", True, "log_level"), ("-l", "--layers", True, "layers"),
    ("-ib", "--input-bucket", True, "input_bucket"),
    ("-ob", "--output-bucket", True, "output_bucket"),
    ("-em", "--execution-mode", True, "execution_mode"), ("-r", "--iam-role", True, "iam_role"),
    ("-sv", "--supervisor-version", True, "supervisor_version"),
    ("-rt", "--runtime", True, "runtime"), ("-bm", "--batch-memory", True, "batch_memory"),
    ("-bc", "--batch-vcpus", True, "batch_vcpus"), ("-g", "--enable-gpu", False, "enable_gpu"),
]
NAME = ("-n", "--name", True, "name")
CONF_FILE = ("-f", "--conf-file", True, "fdl")
SCAR_431 = {
    "init": [*PROFILE, *FUNCTION_DEFINITION, *OUTPUT, ("-i", "--image", True, "image"),
             ("-if", "--image-file", True, "image_file"), CONF_FILE, NAME,
             ("-s", "--init-script", True, "init_script"), ("-ph", "--preheat", False, "preheat"),
             ("-ep", "--extra-payload", True, "extra_payload"),
             ("-db", "--deployment-bucket", True, "deployment_bucket"),
             ("-api", "--api-gateway-name", True, "api_gateway_name")],
    "invoke": [*PROFILE, *EXEC, NAME, CONF_FILE, ("-db", "--data-binary", True, "data_binary"),
               ("-jd", "--json-data", True, "json_data"),
               ("-p", "--parameters", True, "parameters")],
    "run": [*PROFILE, *EXEC, *OUTPUT, NAME, CONF_FILE, ("-s", "--run-script", True, "script"),
            ("-ib", "--input-bucket", True, "input_bucket")],
    "rm": [*PROFILE, *OUTPUT, NAME, ("-a", "--all", False, "all"), CONF_FILE],
    "log": [*PROFILE, NAME, CONF_FILE, ("-ls", "--log-stream-name", True, "stream"),
            ("-ri", "--request-id", True, "request_id")],
    "ls": [*PROFILE, *OUTPUT, ("-b", "--bucket", True, "bucket")],
    "put": [*PROFILE, *STORAGE],
    "get": [*PROFILE, *STORAGE],
}
# SCAR's mutually exclusive groups: one command line takes the first of each; and invoke's
# -db and -jd, which scar-ci refuses together (SCAR would silently send the JSON alone)
EXCLUSIVE = {"init": {"-if", "-f"}, "invoke": {"-f", "-jd"}, "run": {"-f"}, "rm": {"-a", "-f"},
             "log": {"-f"}}
# -v is scar-ci's --json on the verbs whose JSON is the whole answer (SCAR's "complete output")
SAME_AS_JSON = {"init", "rm", "ls"}


parser = cache(build_parser)


def verb_parser(verb: str) -> argparse.ArgumentParser:
    return parser()._subparsers._group_actions[0].choices[verb]  # type: ignore[union-attr]


def flags() -> list[tuple[str, tuple[str, str, bool, str]]]:
    return [(verb, flag) for verb, found in SCAR_431.items() for flag in found]


@pytest.mark.parametrize(("verb", "flag"), flags(), ids=lambda v: v if isinstance(v, str)
                         else v[0])
def test_each_flag_is_taken_under_both_of_scar_s_names(verb: str,
                                                       flag: tuple[str, str, bool, str]) -> None:
    short, long, takes_value, dest = flag
    actions = verb_parser(verb)._option_string_actions
    assert short in actions and long in actions, f"scar-ci {verb} lacks {short}/{long}"
    action = actions[short]
    assert actions[long] is action, f"{short} and {long} differ in scar-ci {verb}"
    assert (action.nargs != 0) == takes_value, f"{verb} {short}: switch or value as in SCAR"
    wanted = "json" if verb in SAME_AS_JSON and dest == "verbose" else dest
    assert action.dest == wanted


def sample(verb: str, short: str) -> list[str]:
    values = {"-m": "256", "-t": "60", "-tt": "5", "-bm": "1024", "-bc": "2", "-e": "A=1",
              "-le": "B=2", "-p": "k=v" if verb == "invoke" else "here", "-ll": "debug"}
    return [short, values.get(short, "x")]


@pytest.mark.parametrize("verb", SCAR_431)
def test_all_of_a_verb_s_flags_at_once(verb: str) -> None:
    """SCAR accepts every flag of a verb on one line (but one of each exclusive group)."""
    line = [verb]
    for short, _, takes_value, _ in SCAR_431[verb]:
        if short not in EXCLUSIVE.get(verb, ()):
            line += sample(verb, short) if takes_value else [short]
    args = parser().parse_args(line)
    assert args.verb == verb


# init's flags: the key of one `functions.aws` item SCAR's parser (scar/parser/cli/__init__.py)
# sets, and the value it gets; -tt is SCAR's container.timeout_threshold, where the FDL has it
# (SCAR's parser puts it at lambda.timeout_threshold, which nothing reads)
INIT_KEYS = {
    "-n": (("lambda", "name"), "x"), "-d": (("lambda", "description"), "x"),
    "-m": (("lambda", "memory"), 256), "-t": (("lambda", "timeout"), 60),
    "-tt": (("lambda", "container", "timeout_threshold"), 5),
    "-ll": (("lambda", "log_level"), "debug"), "-l": (("lambda", "layers"), ["x"]),
    "-e": (("lambda", "container", "environment", "Variables"), {"A": "1"}),
    "-le": (("lambda", "environment", "Variables"), {"B": "2"}),
    "-ib": (("lambda", "input"), [{"storage_provider": "s3", "path": "x"}]),
    "-ob": (("lambda", "output"), [{"storage_provider": "s3", "path": "x"}]),
    "-em": (("lambda", "execution_mode"), "x"), "-r": (("iam", "role"), "x"),
    "-sv": (("lambda", "supervisor", "version"), "x"), "-rt": (("lambda", "runtime"), "x"),
    "-bm": (("batch", "memory"), 1024), "-bc": (("batch", "vcpus"), 2),
    "-g": (("batch", "enable_gpu"), True), "-i": (("lambda", "container", "image"), "x"),
    "-if": (("lambda", "container", "image_file"), str(Path("x").resolve())),
    "-s": (("lambda", "init_script"), str(Path("x").resolve())),
    "-ph": (("lambda", "preheat"), True),
    "-ep": (("lambda", "extra_payload"), str(Path("x").resolve())),
    "-db": (("lambda", "deployment", "bucket"), "x"), "-api": (("api_gateway", "name"), "x"),
    "-pf": (("lambda", "boto_profile"), "x"),
}


@pytest.mark.parametrize(("short", "key"), INIT_KEYS.items())
def test_init_flags_set_the_fdl_key_scar_s_parser_sets(short: str, key: tuple) -> None:
    path, value = key
    takes_value = next(f[2] for f in SCAR_431["init"] if f[0] == short)
    given = parser().parse_args(["init", *(sample("init", short) if takes_value
                                                 else [short])])
    node = definition_overrides(given)
    for part in path:
        node = node[part]
    assert node == value


def test_the_walk_covers_every_init_flag_that_describes_the_function() -> None:
    described = {f[0] for f in SCAR_431["init"]} - {"-f", "-j", "-v"}
    assert described == set(INIT_KEYS)
