"""One source for every rule value: a deadline, the photo size or an age limit written out in
code, messages or pages (instead of read from the rules file) fails here, naming the file and
the line. The few places that must spell a value are listed in ALLOWED, each with its reason."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from chalicelib.rules import Rules, load_rules

PROJECT = Path(__file__).resolve().parents[2]
SCANNED = (
    *(("api", pattern) for pattern in ("**/*.py",)),
    ("beian", "**/*.py"),
    ("site_hooks", "**/*.py"),
    ("site", "**/*.md"),
    ("site", "assets/js/**/*.js"),
)
SKIPPED_PARTS = {"vendor", "generated", "node_modules", "__pycache__"}
RULES_DIR = PROJECT / "api" / "chalicelib" / "rules"
CHINESE_NUMBERS = {1: "一", 2: "两", 5: "五", 12: "十二", 20: "二十"}
ENGLISH_NUMBERS = {5: "five", 20: "twenty"}

# (file, the text that matched, why it may stay). Reviewed: each quotes the notice or names
# something that is not the rule.
SIZING = "the capacity model's input: documents accumulated over the retention period when it was measured"
ALLOWED: frozenset[tuple[str, str, str]] = frozenset({
    ("api/chalicelib/workdays.py", "5个工作日",
     "quotes the notice's words to explain how 'within N working days' is counted"),
    ("api/chalicelib/workdays.py", "1 month", "an example of calendar-month arithmetic, not the on-site period"),
    ("site/operators/scale-and-cost.md", "5 年", SIZING),
    ("site/operators/scale-and-cost.en.md", "5 years", SIZING),
    ("site/operators/scale-and-cost.en.md", "five years", SIZING),
})


def scanned_files() -> Iterator[Path]:
    for folder, pattern in SCANNED:
        for path in sorted((PROJECT / folder).glob(pattern)):
            if path.is_file() and not SKIPPED_PARTS & set(path.parts) and RULES_DIR not in path.parents:
                yield path


def value_patterns(rules: Rules) -> dict[str, re.Pattern[str]]:
    """What a copied rule value looks like, read from the rules themselves."""
    patterns: dict[str, list[str]] = {}
    units = {"working_days": (r"\s*个工作日", r"\s+working[ -]days?\b"),
             "months": (r"\s*个月", r"\s+(?:calendar\s+)?months?\b(?!['’]s)"),
             "years": (r"\s*年(?![0-9底前内])", r"\s+years?\b")}
    for deadline in rules.deadlines:
        zh, en = units[deadline.unit]
        amount = deadline.amount
        found = patterns.setdefault(f"deadline {deadline.id}", [])
        found += [rf"(?<![\d.]){amount}{zh}", rf"(?<![\d.]){amount}{en}"]
        if deadline.unit == "working_days" and amount in CHINESE_NUMBERS:
            found.append(rf"(?<![一二三四五六七八九十]){CHINESE_NUMBERS[amount]}{zh}")
        if amount in ENGLISH_NUMBERS and deadline.unit != "months":  # "one month's filings" is no rule
            found.append(rf"\b{ENGLISH_NUMBERS[amount]}{en}")
    photo = rules.photo
    patterns["photo size"] = [rf"{photo.long_side_px}\s*[×xX*]\s*{photo.short_side_px}",
                              rf"{photo.short_side_px}\s*[×xX*]\s*{photo.long_side_px}"]
    for name, age in (("minimum age", rules.id_check.min_age), ("maximum age", rules.id_check.max_age)):
        patterns[name] = [rf"(?<!\d){age}\s*周岁", rf"\b(?:under|over|aged?|at least)\s+{age}\b"]
    least = rules.stated_purposes.reference_min_chars
    patterns["reference length"] = [rf"(?:至少|不少于)\s*{least}\s*个字", rf"\bat least\s+{least}\s+characters"]
    return {name: re.compile("|".join(found)) for name, found in patterns.items()}


def photo_numbers(path: Path, rules: Rules) -> Iterator[tuple[int, str]]:
    """Integer literals equal to the photo's sides in Python code."""
    sides = {rules.photo.long_side_px, rules.photo.short_side_px}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value in sides:
            yield node.lineno, str(node.value)


def copied_values() -> list[str]:
    rules = load_rules()
    patterns = value_patterns(rules)
    found = []
    for path in scanned_files():
        relative = path.relative_to(PROJECT).as_posix()
        lines = path.read_text(encoding="utf-8").splitlines()
        hits = [(number, match.group(0), name) for number, line in enumerate(lines, 1)
                for name, pattern in patterns.items() for match in pattern.finditer(line)]
        if path.suffix == ".py":
            hits += [(number, text, "photo size") for number, text in photo_numbers(path, rules)]
        for number, text, name in hits:
            if not any(relative == allowed and text == matched for allowed, matched, _ in ALLOWED):
                found.append(f"{relative}:{number}: {name} copied as {text!r}")
    return found


def test_no_rule_value_is_copied_outside_the_rules_file() -> None:
    assert copied_values() == []


def test_the_scan_finds_a_copied_value(tmp_path: Path) -> None:
    """The patterns catch each kind of value as it would be written (so the scan can fail)."""
    patterns = value_patterns(load_rules())
    samples = {
        "deadline pre_verification": ["须在5个工作日内", "within 5 working days", "五个工作日"],
        "deadline provincial_review": ["20个工作日", "20 working days", "二十个工作日"],
        "deadline on_site_verification": ["1个月内", "within 1 month"],
        "deadline follow_up": ["每12个月", "every 12 months"],
        "deadline retention": ["留存5年", "5 years", "five years"],
        "photo size": ["800×600", "600x800"],
        "minimum age": ["未满18周岁", "under 18"],
        "maximum age": ["逾100周岁", "over 100"],
        "reference length": ["至少 4 个字", "at least 4 characters"],
    }
    for name, texts in samples.items():
        for text in texts:
            assert patterns[name].search(text), (name, text)
    for text in ("15 working days", "2010年3月", "1 小时至一个月", "180 + 8", "2025年", "one month's filings"):
        assert not any(pattern.search(text) for pattern in patterns.values()), text
    code = tmp_path / "photo.py"
    code.write_text("WIDTH = 800\nlimit = 100\n")
    assert [text for _, text in photo_numbers(code, load_rules())] == ["800"]


def test_every_allowance_is_still_needed() -> None:
    """An allowance for a line that no longer holds the value must go."""
    patterns = value_patterns(load_rules())
    for relative, matched, reason in ALLOWED:
        text = (PROJECT / relative).read_text(encoding="utf-8")
        assert matched in text and any(p.search(matched) for p in patterns.values()), (relative, reason)
