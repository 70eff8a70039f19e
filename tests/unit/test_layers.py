"""The layering in docs/architecture.md is a checked contract: pure modules import no Flask, no Kubernetes
client and nothing from the shells; `webhook` never imports `executor`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PURE_EXECUTOR = [
    "contract",
    "templating",
    "planning",
    "status",
    "jobspec",
    "observe",
    "podgc",
    "operations",
    "scheduling",
    "pod/config",
]
# The pod programs' wire format: pure, light, and written by jobspec (docs/architecture.md, pod layout).
PURE_SHARED_WITH_POD = "executor.pod.config"
FORBIDDEN_IN_PURE = ("flask", "kubernetes", "requests", "urllib3", "minio", "subprocess", "socket", "sqlite3")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(*parts: str) -> list[Path]:
    base = ROOT.joinpath(*parts)
    if base.is_file():
        return [base]
    if base.with_suffix(".py").is_file():
        return [base.with_suffix(".py")]
    return sorted(base.rglob("*.py")) if base.is_dir() else []


def test_webhook_never_imports_executor() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files("webhook")
        for name in imported_modules(path)
        if name == "executor" or name.startswith("executor.")
    ]
    assert offenders == []


def test_only_the_webhook_app_imports_flask() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files("webhook")
        if path.name != "app.py"
        for name in imported_modules(path)
        if name.split(".")[0] == "flask"
    ]
    assert offenders == []


@pytest.mark.parametrize("module", PURE_EXECUTOR)
def test_pure_engine_modules_do_no_io_imports(module: str) -> None:
    files = python_files("executor", module)
    if not files:
        pytest.skip(f"executor/{module} does not exist yet")
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN_IN_PURE
        or (
            name.startswith(("executor.local", "executor.cluster", "executor.pod", "executor.commands"))
            and name != PURE_SHARED_WITH_POD
        )
    ]
    assert offenders == []
