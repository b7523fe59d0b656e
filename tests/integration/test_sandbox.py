"""The executor's Lambda sandbox, seen from a function and from another local user.

LocalStack on 127.0.0.1 has no authentication: any local user can create and invoke functions.
Here a second uid (not root, not the runner) does so with plain unsigned HTTP, and the function
it deploys reports what it can do: it runs as the sandbox user (993), cannot read the runner's
files or write anywhere but /tmp (of the function's ephemeral storage size), cannot ptrace, and
sees its code at /var/task and Lambda's variables.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from scar_testbed.fixtures_aws import LocalStack
from scar_testbed.lambda_functions import ROLE, zip_of

pytestmark = pytest.mark.integration

OTHER_UID = 4242
SYSTEM_PYTHON = "/usr/bin/python3"  # the second user cannot enter /root, where pyenv lives
# What the function tries; each probe answers True (allowed) or the error's name.
PROBE = '''
import ctypes, errno, os

def attempt(action):
    try:
        action()
        return True
    except OSError as error:
        return errno.errorcode[error.errno]

def write(path):
    with open(path, "w") as handle:
        handle.write("x")

def ptrace_traceme():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(0, 0, None, None) != 0:
        raise OSError(ctypes.get_errno(), "ptrace")

def handler(event, context):
    tmp = os.statvfs("/tmp")
    return {
        "uid": os.getuid(), "gid": os.getgid(),
        "read_secret": attempt(lambda: open(event["secret"]).read()),
        "write_tmp": attempt(lambda: write("/tmp/probe")),
        "write_var_tmp": attempt(lambda: write("/var/tmp/probe")),
        "write_task": attempt(lambda: write("/var/task/probe")),
        "write_next_to_secret": attempt(lambda: write(event["secret"] + ".new")),
        "ptrace": attempt(ptrace_traceme),
        "tmp_mb": tmp.f_blocks * tmp.f_frsize // 2**20,
        "code": sorted(os.listdir("/var/task")),
        "env": {k: os.environ.get(k) for k in ("LAMBDA_TASK_ROOT", "AWS_EXECUTION_ENV", "TZ")},
    }
'''
# The second user's client: unsigned HTTP to LocalStack's Lambda API (no credentials at all).
CLIENT = textwrap.dedent('''
    import json, sys, time, urllib.request
    url, name, role, code, event = sys.argv[1:6]
    auth = ("AWS4-HMAC-SHA256 Credential=nobody/20260101/us-east-1/lambda/aws4_request, "
            "SignedHeaders=host, Signature=0")
    def call(method, path, body):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url + path, data, method=method,
                                         headers={"Authorization": auth,
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)
    call("POST", "/2015-03-31/functions", {
        "FunctionName": name, "Runtime": "python3.11", "Role": role, "Handler": "app.handler",
        "Code": {"ZipFile": code}, "EphemeralStorage": {"Size": 600}, "Timeout": 20})
    for _ in range(300):
        state = call("GET", f"/2015-03-31/functions/{name}", None)["Configuration"]["State"]
        if state != "Pending":
            break
        time.sleep(0.1)
    print(json.dumps(call("POST", f"/2015-03-31/functions/{name}/invocations",
                          json.loads(event))))
''')


@pytest.fixture
def secret():
    """A file only root may read, in a folder anyone may enter, outside /tmp (which the
    sandbox replaces): as a runner's own files are."""
    folder = Path(tempfile.mkdtemp(prefix="scar-runner-", dir="/var/tmp"))
    folder.chmod(0o755)
    path = folder / "credentials"
    path.write_text("aws_secret_access_key = not-for-functions\n")
    path.chmod(0o600)
    yield path
    shutil.rmtree(folder)


def test_another_local_user_gets_only_the_sandbox(localstack: LocalStack, unique_name, secret):
    code = base64.b64encode(zip_of({"app.py": PROBE})).decode()
    event = json.dumps({"secret": str(secret)})
    done = subprocess.run(
        ["setpriv", f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}", "--clear-groups",
         SYSTEM_PYTHON, "-c", CLIENT, localstack.endpoint_url, unique_name, ROLE, code, event],
        capture_output=True, text=True, timeout=120, check=False, cwd="/")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    try:
        assert (report["uid"], report["gid"]) == (993, 990)
        assert report["read_secret"] == "EACCES"
        assert report["write_tmp"] is True
        assert report["write_var_tmp"] == report["write_task"] == "EROFS"
        assert report["write_next_to_secret"] == "EROFS"
        assert report["ptrace"] == "EPERM"
        assert 590 <= report["tmp_mb"] <= 600
        assert report["code"] == ["app.py"]
        assert report["env"] == {"LAMBDA_TASK_ROOT": "/var/task",
                                 "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11", "TZ": ":UTC"}
    finally:
        localstack.client("lambda").delete_function(FunctionName=unique_name)
