"""Settings: the bundled file, and clear messages for every mistake at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlflow.config.load import load_settings
from xlflow.errors import SettingsError
from xlflow.register.load import load_register

from .conftest import REPO, run

BUNDLED = REPO / "templates" / "xlflow.toml"


def test_bundled_settings_fields_and_labels() -> None:
    s = load_settings(BUNDLED)
    assert [(f.label, f.type) for f in s.fields] == [
        ("完成状态", "choice"),
        ("完成进度(%)", "percent"),
        ("进展情况", "text"),
        ("存在问题", "text"),
        ("下步打算", "text"),
        ("说明", "text"),  # added by [plausibility]: where a flagged row is explained
    ]
    status, percent, progress, problems, _, explanation = s.fields
    assert status.choices == ("已完成", "按计划推进", "进度滞后", "未启动") and status.required
    assert (percent.min, percent.max, percent.required) == (0, 100, True)
    assert progress.required and progress.max_length == 2000
    # a lagging task without a reason is asked for one, not refused
    assert problems.required_when is None and not problems.required
    lagging = s.plausibility.rule("lagging_without_problems")
    assert (lagging.severity, lagging.field, lagging.statuses) == (
        "explain",
        "problems",
        ("进度滞后",),
    )
    assert explanation.key == "explanation" and not explanation.required
    assert [(c.label, c.required) for c in s.contact][:3] == [
        ("填报人", True),
        ("联系电话", True),
        ("处室负责人", False),
    ]
    assert s.form.protect and s.register.targets == (
        (2019, "2019年目标"),
        (2022, "2022年目标"),
        (2025, "2025年目标"),
    )


BAD = """
schema = 1
[office]
name = 3
colour = "red"
[form]
protect = "yes"
sheet = "填报/1"
[register]
path = "templates/key-task-list.xlsx"
id_column = "序号"
divisions_column = "责任处室"
[register.targets]
19 = "2019年目标"
[[fields]]
key = "status"
label = "完成状态"
type = "choise"
[[fields]]
key = "percent"
label = "完成进度"
type = "percent"
min = 100
max = 0
[[fields]]
key = "problems"
label = "存在问题"
type = "text"
required_when = { field = "state", equals = "进度滞后" }
[limits]
max_rows = -5
"""


def test_every_problem_is_reported_with_key_and_allowed_values(tmp_path: Path) -> None:
    path = tmp_path / "xlflow.toml"
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    text = "\n".join(info.value.problems)
    assert "office.name: 应为文本" in text
    assert "office.colour: 不认识的设置项" in text
    assert "form.protect: 应为true 或 false" in text
    assert "form.sheet" in text
    assert "register.targets.19" in text
    assert "'choise' 不可用；可用的有 choice, text, number, percent, date" in text
    assert "min (100) 大于 max (0)" in text
    assert "required_when.field: 没有 key 为 'state' 的填报项" in text
    assert "limits.max_rows: 应为正数" in text
    assert len(info.value.problems) >= 9


def test_a_form_of_more_fields_than_its_self_check_can_count_is_refused(tmp_path: Path) -> None:
    """A row's broken cells are the bits of one number on the flag sheet, exact in a
    spreadsheet to 53 of them: 50 fields pass (the 说明 column is the 51st), 51 do not."""
    from xlflow.config.fields import MAX_FIELDS

    text = BUNDLED.read_text(encoding="utf-8")
    path = tmp_path / "xlflow.toml"
    for count, refused in ((MAX_FIELDS - 5, False), (MAX_FIELDS - 4, True)):
        extra = "".join(
            f'\n[[fields]]\nkey = "extra{i}"\nlabel = "备注{i}"\ntype = "text"\n'
            for i in range(count)
        )
        path.write_text(text.replace("\n[[contact]]", extra + "\n[[contact]]", 1), encoding="utf-8")
        if not refused:
            assert len(load_settings(path).fields) == MAX_FIELDS + 1
            continue
        with pytest.raises(SettingsError) as info:
            load_settings(path)
        assert f"填报项最多 {MAX_FIELDS} 个，现有 {MAX_FIELDS + 1} 个" in str(info.value.problems)


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "xlflow.toml"
    path.write_text("[office\nname = 1", encoding="utf-8")
    with pytest.raises(SettingsError, match="TOML 语法错误"):
        load_settings(path)


def test_cli_reports_bad_settings_without_traceback(ws: Path) -> None:
    (ws / "xlflow.toml").write_text(BAD, encoding="utf-8")
    result = run(["register", "-w", str(ws)], expect=3)
    assert "配置有误" in result.output and "choise" in result.output
    assert "Traceback" not in result.output


def test_not_a_working_folder(tmp_path: Path) -> None:
    result = run(["register", "-w", str(tmp_path)], expect=3)
    assert "不是 xlflow 工作文件夹" in result.output and "xlflow init" in result.output


def test_usage_errors_are_exit_2(ws: Path) -> None:
    run(["generate", "-w", str(ws)], expect=2)  # --round missing
    result = run(
        ["generate", "-w", str(ws), "--round", "2019-H1", "--deadline", "7月10日"], expect=2
    )
    assert "YYYY-MM-DD" in result.output


def test_repository_root_is_a_working_folder() -> None:
    from xlflow.workspace import Workspace

    ws = Workspace.open(REPO)
    assert ws.settings_path == REPO / "templates" / "xlflow.toml"
    assert len(load_register(ws).tasks) == 24


def test_a_full_disk_is_a_clear_message(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import xlflow.generate.forms

    def full(path: Path, data: bytes, durable: bool = True) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(xlflow.generate.forms, "atomic_write", full)
    result = run(["generate", "-w", str(ws), "--round", "2019-H1"], expect=3)
    assert "文件读写失败" in result.output and "磁盘空间" in result.output
    assert "Traceback" not in result.output
