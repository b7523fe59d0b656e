"""Properties of scoped names over arbitrary branch, tag and FDL names (hypothesis).

Each name is checked against its service's rules written down independently of scope.py:
botocore's own service models where their patterns are plain regular expressions, else the
rules of the AWS documentation.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import botocore.session
from hypothesis import assume, given
from hypothesis import strategies as st

from scar_ci.scopes.scope import STAGE_MAX, Scope, ScopeKind

_MODELS = botocore.session.get_session()


def _botocore_rule(service: str, shape: str) -> Callable[[str], bool]:
    meta = _MODELS.get_service_model(service).shape_for(shape).metadata
    pattern = re.compile(meta["pattern"], re.ASCII)
    return lambda name: meta["min"] <= len(name) <= meta["max"] and bool(pattern.fullmatch(name))


def _s3_bucket_ok(name: str) -> bool:
    """S3's rules for general purpose bucket names."""
    return (3 <= len(name) <= 63
            and re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name) is not None
            and ".." not in name
            and re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+", name) is None
            and not name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
            and not name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")))


_MOTO_ECR = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
_ecr_ok = _botocore_rule("ecr", "RepositoryName")
_role_ok = _botocore_rule("iam", "roleNameType")
_log_group_ok = _botocore_rule("logs", "LogGroupName")

RULES: dict[str, Callable[[str], bool]] = {
    "function_name": lambda n: re.fullmatch(r"[A-Za-z0-9_-]{1,64}", n) is not None,
    "layer_name": lambda n: re.fullmatch(r"[A-Za-z0-9_-]{1,140}", n) is not None,
    "batch_name": lambda n: re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}", n) is not None,
    "api_name": lambda n: 1 <= len(n) <= 128 and n.isprintable(),
    "log_group": _log_group_ok,
    # IAM names are unique whatever their case: ours are lowercase so no two differ by case only
    "role_name": lambda n: _role_ok(n) and n == n.lower(),
    "ecr_repository": lambda n: _ecr_ok(n) and _MOTO_ECR.fullmatch(n) is not None,
    "bucket": _s3_bucket_ok,
}

# Names that collide with S3's reserved words or look like scar-ci's own hashed forms.
TRICKY = ["s3alias", "x-s3alias", "ol-s3", "x-s3", "deadbeef", "fix-0123abcd", "sthree-x",
          "xn--y", "amzn-s3-demo-z", "192.168.5.4", "-", "", ".", "a..b", "aws:x"]
# Branch and tag names as people and attackers write them.
IDENTS = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=300),
    st.from_regex(r"[a-z0-9][a-z0-9/._-]{0,60}", fullmatch=True),
    st.text(alphabet="aB1-/_.Üß🚀$;`'\"\\ \n\t:", max_size=80),
)
NAMED_KINDS = st.sampled_from([ScopeKind.BRANCH, ScopeKind.TAG, ScopeKind.MANUAL])
PREVIEWS = st.one_of(
    st.builds(Scope.named, NAMED_KINDS, IDENTS),
    st.integers(1, 9_999_999_999).map(Scope.pull_request),
)
SCOPES = st.one_of(PREVIEWS, st.just(Scope.production()))
# FDL names: valid Lambda names mostly, arbitrary text too (bucket paths, API names).
BASES = st.one_of(
    st.sampled_from(TRICKY),
    st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
    st.from_regex(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", fullmatch=True),
    st.text(max_size=200),
)
_STAGE = re.compile(r"(?:br|tag|mn)-[a-z0-9]+(?:-[a-z0-9]+)*|pr-[1-9][0-9]*")


def _names(scope: Scope, base: str) -> dict[str, str]:
    return {method: getattr(scope, method)(base) for method in RULES}


@given(NAMED_KINDS, IDENTS)
def test_a_stage_is_short_lowercase_and_parses_back(kind: ScopeKind, ident: str) -> None:
    stage = Scope.named(kind, ident).stage
    assert _STAGE.fullmatch(stage) and len(stage) <= STAGE_MAX
    again = Scope.parse(stage)
    assert (again.kind, again.stage) == (kind, stage)


@given(NAMED_KINDS, IDENTS, NAMED_KINDS, IDENTS)
def test_different_identifiers_never_share_a_stage(
        kind1: ScopeKind, ident1: str, kind2: ScopeKind, ident2: str) -> None:
    assume((kind1, ident1) != (kind2, ident2))
    assert Scope.named(kind1, ident1).stage != Scope.named(kind2, ident2).stage


@given(NAMED_KINDS, IDENTS)
def test_a_branch_named_like_another_ones_hashed_stage_gets_its_own(
        kind: ScopeKind, ident: str) -> None:
    stage = Scope.named(kind, ident).stage
    look_alike = stage.partition("-")[2]
    assume(look_alike != ident)
    assert Scope.named(kind, look_alike).stage != stage


@given(SCOPES, BASES)
def test_every_name_satisfies_its_service_rules(scope: Scope, base: str) -> None:
    for method, name in _names(scope, base).items():
        assert RULES[method](name), (method, name)


@given(PREVIEWS, BASES)
def test_scoped_names_end_with_the_stage(scope: Scope, base: str) -> None:
    for method, name in _names(scope, base).items():
        assert name.endswith(("--", "/")[method == "ecr_repository"] + scope.stage), name


@given(SCOPES, BASES)
def test_buckets_scar_ci_names_have_no_dots_for_virtual_hosted_https(
        scope: Scope, base: str) -> None:
    name = scope.bucket(base)
    assume(name != base)  # production keeps the FDL's name when S3 accepts it
    assert "." not in name


@given(SCOPES, BASES)
def test_names_are_deterministic(scope: Scope, base: str) -> None:
    rebuilt = Scope(scope.kind, scope.stage, scope.ident)
    assert _names(scope, base) == _names(rebuilt, base)


@given(PREVIEWS, BASES, PREVIEWS, BASES)
def test_different_scope_or_fdl_name_never_share_a_resource_name(
        scope1: Scope, base1: str, scope2: Scope, base2: str) -> None:
    assume((scope1.stage, base1) != (scope2.stage, base2))
    names1, names2 = _names(scope1, base1), _names(scope2, base2)
    for method in RULES:
        assert names1[method] != names2[method], method


@given(PREVIEWS, BASES, BASES)
def test_the_same_branch_keeps_fdl_names_apart(scope: Scope, base1: str, base2: str) -> None:
    assume(base1 != base2)
    names1, names2 = _names(scope, base1), _names(scope, base2)
    for method in RULES:
        assert names1[method] != names2[method], method


@given(BASES, BASES)
def test_production_keeps_fdl_names_apart(base1: str, base2: str) -> None:
    assume(base1 != base2)
    prod = Scope.production()
    names1, names2 = _names(prod, base1), _names(prod, base2)
    for method in RULES:
        assert names1[method] != names2[method], method


@given(st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True))
def test_production_keeps_a_valid_function_name_unchanged(base: str) -> None:
    assert Scope.production().function_name(base) == base


@given(st.from_regex(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", fullmatch=True))
def test_production_keeps_a_valid_bucket_name_unchanged(base: str) -> None:
    assume(_s3_bucket_ok(base))
    assert Scope.production().bucket(base) == base
