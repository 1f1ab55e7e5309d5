"""Features use each other's public names only; shared modules (``learning.pdf``) depend on no feature."""

from __future__ import annotations

import ast
from pathlib import Path

LEARNING = Path(__file__).resolve().parents[2] / "learning"


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("learning."):
            yield node.module, [alias.name for alias in node.names]


def _package(path: Path) -> str:
    return path.relative_to(LEARNING).parts[0].removesuffix(".py")


def test_no_module_imports_another_packages_private_names():
    """The sign-in sheet once took the certificate's private font helpers; both now use ``learning.pdf``."""
    reaching = []
    for path in sorted(LEARNING.rglob("*.py")):
        for module, names in _imports(path):
            private = [name for name in names if name.startswith("_") and not name.startswith("__")]
            if private and module.split(".")[1] != _package(path):
                reaching.append(f"{path.relative_to(LEARNING.parent)}: {module} {private}")
    assert reaching == []


def test_the_shared_pdf_module_depends_on_no_feature():
    for path in sorted((LEARNING / "pdf").glob("*.py")):
        assert [module for module, _names in _imports(path) if not module.startswith("learning.pdf")] == [], path
