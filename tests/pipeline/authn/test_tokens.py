"""The tokens file: strict parsing, digest lookup, reload keeping the previous table."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.auth import Principal, Role
from pipeline.authn.tokens import TokenFile, parse_tokens, token_digest
from pipeline.errors import InvalidArgument

ALICE = hashlib.sha256(b"alice-secret").hexdigest()
GOOD = f"""
[[principals]]
id = "alice"
token_sha256 = "{ALICE}"
roles = {{ acme = "editor", beta = "viewer" }}

[[principals]]
id = "gateway"
token_sha256 = "{token_digest("gw-secret")}"
roles = {{ "*" = "admin" }}
impersonate = true

[[principals]]
id = "spiffe://acme/worker"
roles = {{ acme = "viewer" }}
"""


def test_a_token_finds_its_principal_and_an_unknown_one_none() -> None:
    table = parse_tokens(GOOD)
    assert table.by_token("alice-secret") == Principal("alice", {"acme": Role.EDITOR, "beta": Role.VIEWER})
    gateway = table.by_token("gw-secret")
    assert gateway is not None and gateway.impersonate and gateway.every_org is Role.ADMIN
    assert table.by_token("alice-secret ") is None
    assert table.by_token("") is None
    assert table.by_token(ALICE) is None  # the digest is not the token


def test_a_certificate_only_principal_has_no_token_but_is_known_by_id() -> None:
    table = parse_tokens(GOOD)
    assert [p.id for _, p in table.digests] == ["alice", "gateway"]
    worker = table.by_id("spiffe://acme/worker")
    assert worker is not None and worker.roles == {"acme": Role.VIEWER}


def test_the_digest_helper_is_the_lowercase_hex_sha256() -> None:
    assert token_digest("alice-secret") == ALICE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[principals]\n", "not valid TOML"),
        ("users = []", "unknown key 'users'"),
        ("principals = 3", "must be an array of tables"),
        ('[[principals]]\ntoken_sha256 = "x"', "principals[0]: 'id' must be a non-empty string"),
        ('[[principals]]\nid = ""', "'id' must be a non-empty string"),
        ('[[principals]]\nid = "a\\u0007"', "control characters"),
        ('[[principals]]\nid = "a"\ntoken = "t"', "principals[0] (id 'a'): unknown key 'token'"),
        ('[[principals]]\nid = "a"\ntoken_sha256 = "abc"', "'token_sha256' must be 64 lowercase hex"),
        (f'[[principals]]\nid = "a"\ntoken_sha256 = "{ALICE.upper()}"', "64 lowercase hex"),
        ('[[principals]]\nid = "a"\nroles = { acme = "owner" }', "'roles': org 'acme': unknown role 'owner'"),
        ('[[principals]]\nid = "a"\nroles = { acme = 1 }', "org 'acme': the role must be a string"),
        ('[[principals]]\nid = "a"\nroles = "admin"', "'roles': must be a table"),
        ('[[principals]]\nid = "a"\nimpersonate = "yes"', "'impersonate' must be true or false"),
        ('[[principals]]\nid = "a"\n[[principals]]\nid = "a"', "principals[1] (id 'a'): duplicate id"),
        (
            f'[[principals]]\nid = "a"\ntoken_sha256 = "{ALICE}"\n'
            f'[[principals]]\nid = "b"\ntoken_sha256 = "{ALICE}"',
            "principals[1] (id 'b'): token_sha256 repeats that of 'a'",
        ),
    ],
)
def test_a_bad_file_is_one_error_naming_the_entry_and_key(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_tokens(text, "tokens.toml")
    assert str(raised.value).startswith("tokens.toml: ")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)  # one line on stderr


def test_errors_never_echo_a_digest() -> None:
    text = f'[[principals]]\nid = "a"\ntoken_sha256 = "{ALICE}"\nroles = {{ acme = "boss" }}'
    with pytest.raises(InvalidArgument) as raised:
        parse_tokens(text)
    assert ALICE not in str(raised.value)


def test_reload_swaps_the_table_and_a_broken_file_keeps_the_previous(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(GOOD)
    tokens = TokenFile(str(path))
    assert tokens.table.by_token("alice-secret") is not None
    path.write_text(f'[[principals]]\nid = "alice"\ntoken_sha256 = "{token_digest("new")}"\n')
    tokens.reload()
    assert tokens.table.by_token("alice-secret") is None
    assert tokens.table.by_token("new") is not None
    path.write_text('[[principals]]\nid = "alice"\nroles = { x = "nope" }\n')
    with pytest.raises(InvalidArgument):
        tokens.reload()
    assert tokens.table.by_token("new") is not None
    path.unlink()
    with pytest.raises(OSError):
        tokens.reload()
    assert tokens.table.by_token("new") is not None


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(InvalidArgument, match="not UTF-8"):
        TokenFile(str(path))
