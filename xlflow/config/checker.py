"""Reading one TOML table while remembering every problem instead of stopping at the first."""

from __future__ import annotations

from typing import Any, TypeVar, cast

T = TypeVar("T")


class Checker:
    """Reads one TOML table, remembering every problem instead of stopping at the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def get(
        self,
        table: dict[str, Any],
        where: str,
        key: str,
        kind: type[T] | tuple[type, ...],
        default: T,
        describe: str,
    ) -> T:
        if key not in table:
            return default
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # TOML true/false are bools, and bool is an int subclass: never accept one for a number
        ok = isinstance(value, kinds) and not (bool not in kinds and isinstance(value, bool))
        if not ok:
            self.problems.append(f"{where}{key}: 应为{describe}，实际是 {value!r}")
            return default
        return cast(T, value)

    def unknown(self, table: dict[str, Any], where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                self.problems.append(
                    f"{where}{key}: 不认识的设置项；可用的有 {', '.join(sorted(allowed))}"
                )


def str_list(c: Checker, table: dict[str, Any], where: str, key: str) -> tuple[str, ...] | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        c.problems.append(f'{where}{key}: 应为文本列表，如 ["a", "b"]，实际是 {value!r}')
        return None
    return tuple(value)


def number_of(c: Checker, table: dict[str, Any], where: str, key: str) -> float | None:
    if key not in table:
        return None
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        c.problems.append(f"{where}{key}: 应为数字，实际是 {value!r}")
        return None
    return float(value)


def section_table(c: Checker, data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        c.problems.append(f"[{name}]: 应为一个表，实际是 {value!r}")
        return {}
    return value
