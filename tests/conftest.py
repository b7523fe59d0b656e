"""Shared fixtures: the test bed's pytest plugins."""

pytest_plugins = [
    "scar_testbed.fixtures_aws",
    "scar_testbed.fixtures_moto",
    "scar_testbed.fixtures_containers",
    "scar_testbed.fake_github",
    "scar_testbed.fake_onedata",
    "scar_testbed.fake_oscar",
    "scar_testbed.oidc_issuer",
]
