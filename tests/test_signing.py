"""The signing secret and the signature, below the CLI: what a damaged or loosened secret
file does, and what counts as a signature at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xlflow.errors import WorkspaceError
from xlflow.signing import load_or_create_secret, sign_form, verify
from xlflow.text import normalise_text

from .conftest import open_to_everyone, readable_by_owner_only

SIGNED = {
    "round_id": "2019-H1",
    "division": "办公室",
    "task_ids": ["1", "2"],
    "row_hashes": ["a", "b"],
}


def test_the_secret_is_made_once_owner_only_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "state" / "secret"
    first = load_or_create_secret(path)
    assert len(first) == 32 and readable_by_owner_only(path)
    assert load_or_create_secret(path) == first


def test_a_secret_readable_by_others_is_closed_again(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    secret = load_or_create_secret(path)
    open_to_everyone(path)
    assert not readable_by_owner_only(path)
    assert load_or_create_secret(path) == secret
    assert readable_by_owner_only(path)


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"not hex at all", "已损坏"), (b"\xff\xfe\x00", "已损坏"), (b"abcd" * 4, "过短")],
)
def test_a_damaged_secret_is_a_message(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "secret"
    path.write_bytes(content)
    with pytest.raises(WorkspaceError, match=says):
        load_or_create_secret(path)


def test_only_64_lowercase_hex_digits_are_a_signature() -> None:
    secret = b"s" * 32
    good = sign_form(secret, **SIGNED)
    assert verify(secret, good, **SIGNED)
    assert verify(secret, f"  {good.upper()} ", **SIGNED)
    assert not verify(secret, good[:-1], **SIGNED)
    assert not verify(secret, good[:-1] + "０", **SIGNED)  # a full-width digit
    assert not verify(b"t" * 32, good, **SIGNED)
    assert not verify(secret, good, **{**SIGNED, "division": "政策规划处"})
    assert not verify(secret, good, **{**SIGNED, "row_hashes": ["a", "c"]})
    assert not verify(secret, good, **SIGNED, schema=0)


def test_read_only_text_compares_across_line_ends_and_trailing_spaces() -> None:
    assert normalise_text(" 甲 \r\n乙\r丙 \n") == "甲\n乙\n丙"
    assert normalise_text("甲  \n\n") == "甲"


def test_a_row_hash_is_stable_across_versions() -> None:
    """Forms already sent out must keep verifying: the row hash is pinned to its value."""
    from xlflow.signing import row_hash

    assert (
        row_hash("5-1", "牵头", ["建设甬江科创大走廊", "目标 \r\n 二"])
        == "263bb4bb5ee74d732987c48dbc42ef38"
    )


# what JSON escapes or keeps (quotes, backslash, control characters, line ends, DEL, U+2028,
# full-width and CJK): a fixed alphabet, since hypothesis's own builds a table of all of
# Unicode first, which under Wine failed its too_slow health check
JSON_TEXT = st.text(alphabet='"\\/\b\f\n\r\t\x00\x1f\x7f \u2028\u3000甲乙“”aZ0', max_size=30)


@given(
    st.text(alphabet='"\\\n甲a1-', max_size=8),
    st.sampled_from(["牵头", "配合", ""]),
    st.lists(JSON_TEXT, max_size=5),
)
def test_a_row_hash_is_the_sha256_of_the_json_it_always_was(
    task_id: str, role: str, texts: list[str]
) -> None:
    """row_hash writes its JSON by hand for speed: for any text (quotes, backslashes,
    control characters, line ends, CJK) it must be json.dumps's, byte for byte."""
    import hashlib
    import json

    from xlflow.signing import row_hash

    payload = json.dumps([task_id, role, [normalise_text(t) for t in texts]], ensure_ascii=False)
    assert row_hash(task_id, role, texts) == hashlib.sha256(payload.encode()).hexdigest()[:32]


@given(st.text(alphabet=st.sampled_from(" \t\r\n\u3000\x85甲a"), max_size=12))
def test_normalising_one_line_takes_the_short_way_to_the_same_text(text: str) -> None:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    assert normalise_text(text) == "\n".join(line.rstrip() for line in lines).strip()


def test_a_forms_identity_is_readable_and_keyed_as_the_reader_expects() -> None:
    import datetime as dt

    from xlflow.model import FormRow, FormSpec, Role, Round
    from xlflow.signing import IDENTITY_KEYS, identity

    spec = FormSpec(
        round=Round("2019-H1", "2019年上半年", 2019, dt.date(2019, 7, 10)),
        division="办公室",
        title="",
        target_year=2019,
        rows=(FormRow("5", Role.LEAD, ()), FormRow("五-1", Role.COOPERATING, ())),
        signature="f" * 64,
    )
    found = identity(spec)
    assert tuple(found) == IDENTITY_KEYS
    assert found["schema"] == "1" and found["round"] == "2019-H1" and found["division"] == "办公室"
    # stored in the hidden sheet as a person would read it, not as \u escapes
    assert found["tasks"] == '["5", "五-1"]' and found["signature"] == "f" * 64
