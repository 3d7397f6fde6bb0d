"""Packages depend one way, and nothing is imported inside a function without a reason.

`ORDER` is the order of the README's "Layout": a module may import from its own package
and from packages below it, never from one above. A notification a lower package must
trigger is a function passed in (e.g. `extracts.service.publish(notify=...)`), not an
import. An import inside a function body needs a `# lazy:` comment before it, in that
function, saying why.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cpl_service

ROOT = Path(cpl_service.__file__).parent

# Top to bottom. "__init__" is `cpl_service` itself (its version).
ORDER: tuple[str, ...] = (
    "cli",
    "main",
    "web",
    "api",
    "startup",
    "migrations",
    "models",
    "publication",
    "notices",
    "extracts",
    "submissions",
    # Above entries: the row checks read the field lengths declared on the entry model.
    "workbook",
    "entries",
    "certificates",
    "specifications",
    "parties",
    "idempotency",
    "signing",
    "devices",
    "batches",
    "storable",
    "db",
    "config",
    "clock",
    "errors",
    "__init__",
)
RANK = {name: rank for rank, name in enumerate(ORDER)}
LAZY_MARK = "# lazy:"


def part_of(relative: Path) -> str:
    """The top-level package (or module) of `cpl_service` a file belongs to."""
    first = relative.parts[0]
    return first.removesuffix(".py")


def _module_of(relative: Path) -> list[str]:
    parts = list(relative.with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imported_parts(source: str, relative: Path) -> list[tuple[int, str]]:
    """(line, top-level part) of every `cpl_service` import in a file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _module_of(relative)
                if relative.name != "__init__.py":
                    package = package[:-1]
                base = ["cpl_service", *package[: len(package) - (node.level - 1)]]
            else:
                base = []
            module = base + (node.module.split(".") if node.module else [])
            if module == ["cpl_service"]:
                targets = [["cpl_service", alias.name] for alias in node.names]
            else:
                targets = [module]
        else:
            continue
        for target in targets:
            if target[0] != "cpl_service":
                continue
            name = target[1] if len(target) > 1 else "__init__"
            found.append((node.lineno, name if name in RANK else "__init__"))
    return found


def backward_imports(source: str, relative: Path) -> list[str]:
    """Each import of a package above (or beside, unordered) the file's own package."""
    own = part_of(relative)
    problems = []
    for line, target in imported_parts(source, relative):
        if target != own and RANK[target] <= RANK[own]:
            problems.append(f"{relative}:{line} imports {target}, which is above {own}")
    return problems


def unjustified_lazy_imports(source: str, relative: Path) -> list[str]:
    """Each import inside a function body with no `# lazy:` comment before it there."""
    lines = source.splitlines()
    problems = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if node is function or not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            before = lines[function.lineno - 1 : node.lineno]
            if not any(LAZY_MARK in text for text in before):
                problems.append(f"{relative}:{node.lineno} imports inside {function.name}()")
    return problems


def _sources() -> list[tuple[Path, str]]:
    return [
        (path.relative_to(ROOT), path.read_text(encoding="utf-8"))
        for path in sorted(ROOT.rglob("*.py"))
    ]


def test_every_package_has_a_place_in_the_order() -> None:
    parts = {part_of(relative) for relative, _ in _sources()}
    assert parts - set(ORDER) == set()


def test_no_import_runs_against_the_order() -> None:
    problems = [p for relative, source in _sources() for p in backward_imports(source, relative)]
    assert problems == []


def test_no_import_inside_a_function_without_a_reason() -> None:
    problems = [
        p for relative, source in _sources() for p in unjustified_lazy_imports(source, relative)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        # A lower package reaching up, at the top of the file or hidden in a function.
        ("entries/service.py", "from cpl_service.notices import service\n", 1),
        ("extracts/service.py", "def f():\n    from cpl_service.notices.service import q\n", 1),
        ("certificates/service.py", "import cpl_service.entries.models\n", 1),
        ("entries/reliance.py", "from ..submissions import service\n", 1),
        ("db.py", "from cpl_service import errors, models\n", 1),
        # Downwards, within the package, and the package's own version are fine.
        ("publication/rows.py", "from cpl_service.extracts.rows import public_entry\n", 0),
        ("entries/reliance.py", "from cpl_service.entries.service import annotate\n", 0),
        ("entries/reliance.py", "from . import service\n", 0),
        ("main.py", "from cpl_service import __version__\n", 0),
    ],
)
def test_the_order_check_catches_an_arrow_upwards(
    relative: str, source: str, expected: int
) -> None:
    assert len(backward_imports(source, Path(relative))) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    import json\n", 1),
        ("async def f():\n    if x:\n        from a import b\n", 1),
        ("def f():\n    def g():\n        import json\n", 2),  # both functions hold it
        ("def f():\n    # lazy: costs a second\n    import json\n", 0),
        ("def f():\n    # lazy: both are slow\n    import a\n\n    import b\n", 0),
        ("import json\n\n\ndef f():\n    return json\n", 0),
        ("# lazy: at the top of the file it says nothing\ndef f():\n    import json\n", 1),
    ],
)
def test_the_lazy_import_check_catches_an_unexplained_one(source: str, expected: int) -> None:
    assert len(unjustified_lazy_imports(source, Path("x.py"))) == expected
