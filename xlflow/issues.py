"""Problems found in returned files: typed, coded values, never exceptions."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from .text import visible


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    EXCLUDED = "excluded"  # by the coordinator's decision (xlflow exclude)


class IssueCode(StrEnum):
    """Stable codes. Each is documented in docs/issue-codes.md (a test checks that)."""

    # the file as a whole
    SKIPPED_LOCK_FILE = "skipped-lock-file"
    SKIPPED_HIDDEN = "skipped-hidden"
    SKIPPED_SYMLINK = "skipped-symlink"
    SKIPPED_IN_USE = "skipped-in-use"
    SKIPPED_NOT_SPREADSHEET = "skipped-not-spreadsheet"
    OTHER_ROUND_FILE = "other-round-file"
    EMPTY_FILE = "empty-file"
    NOT_A_WORKBOOK = "not-a-workbook"
    EXTENSION_MISMATCH = "extension-mismatch"
    CORRUPT_FILE = "corrupt-file"
    FORMAT_TOO_OLD = "format-too-old"
    ENCRYPTED = "encrypted"
    ZIP_UNSUPPORTED = "zip-unsupported"
    MALFORMED_PART = "malformed-part"
    CELL_VALUE_INVALID = "cell-value-invalid"
    LIMIT_EXCEEDED = "limit-exceeded"
    UNSAFE_XML = "unsafe-xml"
    UNSAFE_ZIP_MEMBER = "unsafe-zip-member"
    MEMBER_NAME_EMPTY = "member-name-empty"
    MEMBER_NAME_CONTROL = "member-name-control"
    MEMBER_NAME_ENCODING = "member-name-encoding"
    CONTAINER_DAMAGED = "container-damaged"
    CONTAINER_EMPTY = "container-empty"
    BIFF_RECORD_DAMAGED = "biff-record-damaged"
    READER_CRASHED = "reader-crashed"
    READ_TIMEOUT = "read-timeout"
    MACROS_PRESENT = "macros-present"
    # which form this is
    UNIDENTIFIED = "unidentified"
    IDENTIFIED_BY_CONTENT = "identified-by-content"
    METADATA_VISIBLE = "metadata-visible"
    METADATA_CONFLICT = "metadata-conflict"
    METADATA_INVALID = "metadata-invalid"
    METADATA_COPY_DIFFERS = "metadata-copy-differs"
    SCHEMA_UNSUPPORTED = "schema-unsupported"
    SIGNATURE_INVALID = "signature-invalid"
    WRONG_ROUND = "wrong-round"
    FILENAME_MISMATCH = "filename-mismatch"
    LATE_RETURN = "late-return"
    # the coordinator's last word (xlflow accept / exclude)
    ACCEPTED_BY_COORDINATOR = "accepted-by-coordinator"
    EXCLUDED_BY_COORDINATOR = "excluded-by-coordinator"
    # the layout of the task sheet
    TASK_SHEET_MISSING = "task-sheet-missing"
    COLUMN_MISSING = "column-missing"
    TASK_MISSING = "task-missing"
    TASK_DUPLICATED = "task-duplicated"
    TASK_FOREIGN = "task-foreign"
    EXTRA_ROW = "extra-row"
    READONLY_EDITED = "readonly-edited"
    # the values typed in
    REQUIRED_MISSING = "required-missing"
    REQUIRED_WHEN = "required-when"
    CHOICE_NOT_ALLOWED = "choice-not-allowed"
    NOT_A_NUMBER = "not-a-number"
    OUT_OF_RANGE = "out-of-range"
    PERCENT_AMBIGUOUS = "percent-ambiguous"
    NOT_A_DATE = "not-a-date"
    TOO_LONG = "too-long"
    CELL_TEXT_LIMIT = "cell-text-limit"
    INVALID_CHARACTERS = "invalid-characters"
    FORMULA_NO_VALUE = "formula-no-value"
    FORMULA_VALUE_USED = "formula-value-used"
    CONTACT_MISSING = "contact-missing"
    PHONE_INVALID = "phone-invalid"
    # found when consolidating
    STATUS_CONFLICT = "status-conflict"
    # the unit directory (单位名录), the coordinator's own file
    DIRECTORY_NAME_MISSING = "directory-name-missing"
    DIRECTORY_DUPLICATE_UNIT = "directory-duplicate-unit"
    DIRECTORY_ALIAS_CONFLICT = "directory-alias-conflict"
    DIRECTORY_UNKNOWN_COLLECTIVE = "directory-unknown-collective"
    DIRECTORY_EMAIL_INVALID = "directory-email-invalid"
    # a form forwarded down a level and rolled back up
    ROLLED_UP = "rolled-up"
    # a division's second return in a round, against its previous one
    OLDER_FORM_TAKEN = "older-form-taken"
    CHANGED_SINCE_LAST_RETURN = "changed-since-last-return"
    SAME_AS_LAST_RETURN = "same-as-last-return"
    # 核实性审核: a value that may be true and needs a word of explanation
    NEEDS_EXPLANATION = "needs-explanation"
    EXPLAINED = "explained"
    IMPLAUSIBLE = "implausible"
    EXPLANATION_ASKED_AGAIN = "explanation-asked-again"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem, located as precisely as the file allows."""

    code: IssueCode
    severity: Severity
    message: str
    file: str = ""
    sheet: str = ""
    cell: str = ""
    task_id: str = ""
    division: str = ""
    field: str = ""
    rule: str = ""  # the plausibility rule (xlflow.plausibility) a row breaks

    def __post_init__(self) -> None:
        # a message quotes what a file says (a stream's name, a sheet's, a value): its
        # control characters are shown, wherever the message is printed or stored
        shown = visible(self.message, keep="\n")
        if shown != self.message:
            object.__setattr__(self, "message", shown)

    def to_dict(self) -> dict[str, str]:
        out = asdict(self)
        out["code"] = str(self.code)
        out["severity"] = str(self.severity)
        if not self.rule:
            del out["rule"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Issue:
        return cls(
            code=IssueCode(data["code"]),
            severity=Severity(data["severity"]),
            message=data["message"],
            file=data.get("file", ""),
            sheet=data.get("sheet", ""),
            cell=data.get("cell", ""),
            task_id=data.get("task_id", ""),
            division=data.get("division", ""),
            field=data.get("field", ""),
            rule=data.get("rule", ""),
        )

    @property
    def location(self) -> str:
        """'填报!H7' or '填报' or ''."""
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or self.cell


# for the coordinator, not the division: left out of receipts
COORDINATOR_ONLY_CODES = (IssueCode.METADATA_COPY_DIFFERS,)
# what a division's second return changed from its previous one
CHANGE_CODES = (IssueCode.CHANGED_SINCE_LAST_RETURN, IssueCode.SAME_AS_LAST_RETURN)
# 核实性审核: a row to explain, explained, or asked about again; none sends a return back
# unless its rule is an error
EXPLAIN_CODES = (
    IssueCode.NEEDS_EXPLANATION,
    IssueCode.EXPLANATION_ASKED_AGAIN,
    IssueCode.EXPLAINED,
)
# of those, a word still owed
TO_EXPLAIN = (IssueCode.NEEDS_EXPLANATION, IssueCode.EXPLANATION_ASKED_AGAIN)
# the coordinator's decisions, recorded on the file they are about
DECISION_CODES = (IssueCode.ACCEPTED_BY_COORDINATOR, IssueCode.EXCLUDED_BY_COORDINATOR)


def error(code: IssueCode, message: str, **where: str) -> Issue:
    return Issue(code, Severity.ERROR, message, **where)


def warning(code: IssueCode, message: str, **where: str) -> Issue:
    return Issue(code, Severity.WARNING, message, **where)


def has_errors(issues: list[Issue]) -> bool:
    return any(i.severity is Severity.ERROR for i in issues)


# What a low-level library said, in words for the person who must fix the file: never
# an exception's name or text (a person cannot act on "zlib.error: Error -3").
_DAMAGE_WORDS: tuple[tuple[str, str], ...] = (
    ("crc", "校验值不符，内容在传输或保存中被改坏"),
    ("truncated", "文件不完整，像是没有下载或保存完"),
    ("decompress", "压缩数据已损坏"),
    ("compressed data", "压缩数据已损坏"),
    ("lzma", "压缩数据已损坏"),
    ("invalid data stream", "压缩数据已损坏"),
    ("password", "设有密码"),
    ("encrypt", "设有密码"),
    ("not a zip", "不是完整的压缩格式"),
    ("central directory", "压缩目录已损坏"),
    ("bad magic", "压缩结构已损坏"),
    ("overlapped", "压缩结构中的部件互相重叠，是特意构造的文件"),
    (r"\bcfb\b", "OLE 复合文档结构已损坏"),
    (r"\bole\b", "OLE 复合文档结构已损坏"),  # a word: not the "ole" of "whole"
)
_DAMAGE_BY_TYPE: dict[str, str] = {
    "EOFError": "文件不完整，像是没有下载或保存完",
    "NotImplementedError": "用了不支持的压缩方式或版本",
    "OverflowError": "结构中的数值超出范围",
    "MemoryError": "需要的内存超出上限",
    "LZMAError": "压缩数据已损坏",
    "UnicodeDecodeError": "文字编码无效",
}


def damage_words(cause: object) -> str:
    """A short Chinese phrase for what is wrong, from an exception or an own phrase."""
    if isinstance(cause, str):
        return cause
    text = str(cause).lower()
    for needle, words in _DAMAGE_WORDS:
        if re.search(needle, text):
            return words
    return _DAMAGE_BY_TYPE.get(type(cause).__name__, "结构已损坏")
