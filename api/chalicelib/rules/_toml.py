"""Strict reading of the TOML data files.

A misspelt key in a rules file would otherwise be ignored silently and a rule
would quietly stop applying, so missing keys, wrong types and unknown keys are
all errors, reported in Chinese and English with the file and the key's path.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class DataFileError(ValueError):
    """A data file is missing, unreadable or breaks its schema."""

    def __init__(self, path: Path, where: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{path} [{where}]：{message_zh} / {message_en}")
        self.message_zh = message_zh
        self.message_en = message_en


def read_toml(path: Path) -> Table:
    """Parse ``path`` and return its root table."""
    try:
        with path.open("rb") as stream:
            data = tomllib.load(stream)
    except OSError as error:
        raise DataFileError(path, "", "无法读取文件", f"cannot read the file ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise DataFileError(path, "", "不是有效的TOML", f"not valid TOML ({error})") from None
    return Table(data, "", path, [])


class Table:
    """One TOML table; remembers which keys were read so leftovers can be reported."""

    def __init__(self, data: Mapping[str, Any], where: str, path: Path, registry: list[Table]) -> None:
        self._data = data
        self._used: set[str] = set()
        self._registry = registry
        self.where = where
        self.path = path
        registry.append(self)

    def fail(self, message_zh: str, message_en: str, key: str = "") -> DataFileError:
        """Return an error located at this table (or at ``key`` in it)."""
        return DataFileError(self.path, self._join(key), message_zh, message_en)

    def _join(self, key: str) -> str:
        return ".".join(part for part in (self.where, key) if part)

    def names(self) -> tuple[str, ...]:
        """The keys of the table, all counted as read."""
        self._used.update(self._data)
        return tuple(self._data)

    def has(self, key: str) -> bool:
        """Whether the table sets ``key`` (without counting it as read)."""
        return key in self._data

    def get(self, key: str, kind: type[T]) -> T:
        """Return the value of a required key, checked to be a ``kind``."""
        if key not in self._data:
            raise self.fail("缺少必填项", "required key is missing", key)
        return self._typed(key, self._data[key], kind)

    def optional(self, key: str, kind: type[T], default: T) -> T:
        """Return the value of an optional key, or ``default``."""
        if key not in self._data:
            return default
        return self._typed(key, self._data[key], kind)

    def _typed(self, key: str, value: object, kind: type[T]) -> T:
        self._used.add(key)
        # bool is a subclass of int, but `amount = true` is a mistake.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(f"类型应为 {kind.__name__}", f"expected {kind.__name__}", key)
        return value

    def choice(self, key: str, options: tuple[T, ...]) -> T:
        """Return a string value that must be one of ``options``."""
        value = self.get(key, str)
        for option in options:
            if option == value:
                return option
        allowed = ", ".join(map(str, options))
        raise self.fail(f"取值应为 {allowed} 之一", f"must be one of {allowed}", key)

    def strings(self, key: str) -> tuple[str, ...]:
        """Return a required list of strings."""
        values = self.get(key, list)
        if not all(isinstance(value, str) for value in values):
            raise self.fail("应为字符串列表", "expected a list of strings", key)
        return tuple(values)

    def table(self, key: str) -> Table:
        """Return a required sub-table."""
        return Table(self.get(key, dict), self._join(key), self.path, self._registry)

    def tables(self, key: str) -> tuple[Table, ...]:
        """Return an array of tables (may be inline), each located by its index."""
        values = self.optional(key, list, [])
        if not all(isinstance(value, dict) for value in values):
            raise self.fail("应为表的数组", "expected an array of tables", key)
        return tuple(
            Table(value, f"{self._join(key)}[{index}]", self.path, self._registry) for index, value in enumerate(values)
        )

    def named_tables(self, key: str) -> tuple[tuple[str, Table], ...]:
        """Return the sub-tables of a table of tables, with their names."""
        parent = self.table(key)
        return tuple((name, parent.table(name)) for name in parent.names())

    def check_unused(self) -> None:
        """Raise on the first key that was never read, in this or any table read after it."""
        for table in self._registry:
            for key in table._data:
                if key not in table._used:
                    raise table.fail("未知的键（拼写错误？）", "unknown key (misspelt?)", key)
