"""Problems found in returned files: typed, coded values, never exceptions."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


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


VERDICT_LABELS: dict[str, str] = {
    Verdict.ACCEPTED: "已采用",
    Verdict.REJECTED: "退回修改",
    Verdict.SUPERSEDED: "已被更新版本替代",
    Verdict.DUPLICATE: "重复文件",
    Verdict.SKIPPED: "已跳过",
    Verdict.EXCLUDED: "不采用（协调办公室决定）",
}


class IssueCode(StrEnum):
    """Stable codes. Each is documented in docs/issue-codes.md (a test checks that)."""

    # the file as a whole
    SKIPPED_LOCK_FILE = "skipped-lock-file"
    SKIPPED_HIDDEN = "skipped-hidden"
    SKIPPED_SYMLINK = "skipped-symlink"
    SKIPPED_NOT_SPREADSHEET = "skipped-not-spreadsheet"
    OTHER_ROUND_FILE = "other-round-file"
    EMPTY_FILE = "empty-file"
    NOT_A_WORKBOOK = "not-a-workbook"
    EXTENSION_MISMATCH = "extension-mismatch"
    CORRUPT_FILE = "corrupt-file"
    ENCRYPTED = "encrypted"
    ZIP_UNSUPPORTED = "zip-unsupported"
    MALFORMED_PART = "malformed-part"
    CELL_VALUE_INVALID = "cell-value-invalid"
    LIMIT_EXCEEDED = "limit-exceeded"
    UNSAFE_XML = "unsafe-xml"
    UNSAFE_ZIP_MEMBER = "unsafe-zip-member"
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
    PROGRESS_NOT_UPDATED = "progress-not-updated"
    # found when consolidating
    STATUS_CONFLICT = "status-conflict"


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

    def to_dict(self) -> dict[str, str]:
        out = asdict(self)
        out["code"] = str(self.code)
        out["severity"] = str(self.severity)
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
        )

    @property
    def location(self) -> str:
        """'填报!H7' or '填报' or ''."""
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or self.cell


# for the coordinator, not the division: left out of receipts
COORDINATOR_ONLY_CODES = (IssueCode.METADATA_COPY_DIFFERS,)
# the coordinator's decisions, recorded on the file they are about
DECISION_CODES = (IssueCode.ACCEPTED_BY_COORDINATOR, IssueCode.EXCLUDED_BY_COORDINATOR)


def error(code: IssueCode, message: str, **where: str) -> Issue:
    return Issue(code, Severity.ERROR, message, **where)


def warning(code: IssueCode, message: str, **where: str) -> Issue:
    return Issue(code, Severity.WARNING, message, **where)


def has_errors(issues: list[Issue]) -> bool:
    return any(i.severity is Severity.ERROR for i in issues)
