"""Form signatures: HMAC-SHA256 with a per-working-folder secret.

The signature covers the schema version, round, division, task ids and a hash of each
row's read-only text. A division cannot forge it without the secret, which is never
written into a workbook, a log or an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from collections.abc import Sequence
from json.encoder import encode_basestring as _json_string
from pathlib import Path

from .errors import StateDamaged
from .model import FormRow, FormSpec
from .text import normalise_text
from .windows import ON_WINDOWS, owner_only, restrict_to_owner

# The identity stamp: what `generate` writes into every form, three times over (a
# veryHidden sheet, defined names, custom properties), and `collect` reads back by key.
SCHEMA = 1
META_SHEET = "_xlflow"
META_NOTE = "请勿修改或删除本工作表：xlflow 用它识别和核验报送的表格。"
NAME_PREFIX = "xlflow_"
PROP_PREFIX = "xlflow."
IDENTITY_KEYS = ("schema", "round", "division", "tasks", "signature")
# a rolled-up form (xlflow roll-up): its provenance, in full on a veryHidden sheet and in
# short as a custom property, which every reader of returns reads anyway
ROLLUP_SHEET = "_xlflow_rollup"
ROLLUP_PROPERTY = "rollup"
_SECRET_BYTES = 32


def identity(spec: FormSpec) -> dict[str, str]:
    """The signed identity of a form, by key (IDENTITY_KEYS, in that order)."""
    return {
        "schema": str(SCHEMA),
        "round": spec.round.id,
        "division": spec.division,
        "tasks": json.dumps(list(spec.task_ids), ensure_ascii=False),
        "signature": spec.signature,
    }


def load_or_create_secret(path: Path) -> bytes:
    """The working folder's secret, created on first use readable by its owner alone: mode
    0o600 on POSIX, a DACL with that user alone on Windows (`xlflow.windows`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(_SECRET_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            os.chmod(path, 0o600)
        if ON_WINDOWS and not owner_only(path):
            restrict_to_owner(path)  # the file mode means nothing there: an ACL does it
        text = path.read_text(encoding="ascii").strip()
        secret = bytes.fromhex(text)
    except (OSError, ValueError, UnicodeDecodeError):
        raise StateDamaged(
            f"签名密钥文件 {path} 无法读取或已损坏。没有它就无法核验已发出的表格；"
            "如确需重建，请删除该文件后重新生成并下发全部表格。"
        ) from None
    if len(secret) < 16:
        raise StateDamaged(f"签名密钥文件 {path} 内容过短，可能已被改动")
    return secret


def row_hash(task_id: str, role_label: str, readonly_texts: Sequence[str]) -> str:
    # json.dumps([task_id, role_label, [texts]], ensure_ascii=False), byte for byte (forms
    # already sent carry these hashes), without its encoder's set-up for every row
    texts = ", ".join(_json_string(normalise_text(t)) for t in readonly_texts)
    payload = f"[{_json_string(task_id)}, {_json_string(role_label)}, [{texts}]]"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def before_digest(before_round: str, rows: Sequence[FormRow]) -> str:
    """A digest of the previous answers and past deadlines a form carries for its
    plausibility rules ("" where it carries none), which its signature covers."""
    if not before_round and not any(r.due for r in rows):
        return ""
    table = [[r.task_id, [list(p) for p in r.before], r.due] for r in rows]
    payload = json.dumps([before_round, table], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def sign_form(
    secret: bytes,
    round_id: str,
    division: str,
    task_ids: Sequence[str],
    row_hashes: Sequence[str],
    schema: int = SCHEMA,
    before: str = "",
) -> str:
    payload = json.dumps(
        {
            "schema": schema,
            "round": round_id,
            "division": division,
            "tasks": list(task_ids),
            "rows": list(row_hashes),
            # forms made before plausibility rules carry no previous values: same payload
            **({"before": before} if before else {}),
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    return hmac.new(secret, payload.encode("utf-8"), hashlib.sha256).hexdigest()


_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def verify(secret: bytes, signature: str, **signed: object) -> bool:
    """Whether `signature` is this folder's HMAC of the form. Anything that is not 64 hex
    digits (a full-width digit, say) is simply not a signature."""
    candidate = signature.strip().lower()
    if not _SIGNATURE.fullmatch(candidate):
        return False
    expected = sign_form(secret, **signed)  # type: ignore[arg-type]
    return hmac.compare_digest(expected, candidate)
