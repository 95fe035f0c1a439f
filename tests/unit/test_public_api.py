"""The public API: every package's ``__all__`` resolves and is re-exported by ``mechscope``;
experiments and notebooks use nothing else; axis names come from the glossary; hook names are
built in one place."""

import ast
import importlib
import re
from pathlib import Path

import pytest

import mechscope

ROOT = Path(__file__).parents[2]
CLIENTS = sorted([*ROOT.glob("experiments/**/*.py"), *ROOT.glob("notebooks/*.py")])


@pytest.mark.parametrize("package", mechscope.PACKAGES)
def test_every_public_name_resolves_and_is_re_exported(package):
    module = importlib.import_module(f"mechscope.{package}")
    assert module.__all__, package
    for name in module.__all__:
        value = getattr(module, name)
        assert getattr(mechscope, name) is value or name == "attention_patterns"


def test_experiments_and_notebooks_import_only_public_names():
    offences = []
    for path in CLIENTS:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (
                isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mechscope")
            ):
                continue
            module = node.module or ""
            if module.count(".") > 1 and module != "mechscope.cli":
                offences.append(f"{path.relative_to(ROOT)}: {module}")
                continue
            public = importlib.import_module(module).__all__
            offences += [f"{path.relative_to(ROOT)}: {module}.{a.name}" for a in node.names
                         if a.name not in public]  # fmt: skip
    assert not offences, offences


def _glossary() -> set[str]:
    doc = (ROOT / "src/mechscope/core/axes.py").read_text().split('"""')[1]
    names = set()
    for cell in re.findall(r"^\| ([^|]+)\|", doc, re.M):
        names |= set(re.findall(r"`([^`]+)`", cell))
    return names


def test_every_axis_name_in_an_annotation_is_in_the_glossary():
    used: dict[str, str] = {}
    pattern = r'(?:Float|Int|Bool|Shaped|Num)\[\s*Tensor,\s*"([^"]*)"\s*\]'
    for path in [*ROOT.glob("src/**/*.py"), *ROOT.glob("experiments/**/*.py")]:
        for spec in re.findall(pattern, path.read_text()):
            for name in spec.split():
                name = name.lstrip("*#")
                if name and not name[0].isdigit() and name != "...":
                    used.setdefault(name, str(path.relative_to(ROOT)))
    missing = {name: where for name, where in used.items() if name not in _glossary()}
    assert not missing, missing


def test_hook_names_are_built_only_in_core_sites():
    hook = re.compile(r"""["'][\w.{}]*\bhook_(?!points\b|names?\b)\w+["']""")
    offences = []
    for path in ROOT.glob("src/mechscope/**/*.py"):
        if path.name == "sites.py" and path.parent.name == "core":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if hook.search(line) and "startswith" not in line:  # parameter-name prefixes
                offences.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offences, offences
