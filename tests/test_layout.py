"""The package layout: imports run one way, from the command line down to the shared core.

Each folder (or top-level module) of ``vesselnet`` has a level; a module may import from
lower levels and from its own folder only. The table is the one in the README's layout map.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vesselnet"
LEVELS = {
    "core": 0,  # argument checks, activations, U-Net size arithmetic, atomic files
    "config": 1,  # every configuration dataclass, TOML presets
    "layers": 1,  # custom Keras layers
    "models": 2, "data": 2, "preprocessing": 2, "losses": 2, "metrics": 2,
    "card": 3,  # the typed model card
    "bundle": 4, "inference": 4,  # bundle folders; whole-image prediction
    "training": 5, "export": 5,
    "loading": 6,  # the one loader, any format
    "jobs": 7,  # what each command does
    "cli": 8,
}
PACKAGE_DATA = {"pretrained", "samples"}  # folders without code


def unit_of(module: str) -> str | None:
    """``vesselnet.models.facts`` -> ``models``; None for the package root."""
    parts = module.split(".")
    return parts[1] if parts[0] == "vesselnet" and len(parts) > 1 else None


def imports_of(path: Path):
    """Every ``vesselnet`` module imported by ``path`` (lazy imports in functions too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("vesselnet"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.startswith("vesselnet"):
            if node.module == "vesselnet":  # from vesselnet import x: x may be a module
                yield from (f"vesselnet.{alias.name}" for alias in node.names)
            else:
                yield node.module


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        yield (relative.parts[0] if len(relative.parts) > 1 else relative.stem), path


def test_every_folder_has_a_level():
    found = {unit for unit, _ in modules()} - {"__init__"}
    folders = {path.name for path in PACKAGE.iterdir()
               if path.is_dir() and path.name != "__pycache__"}
    assert found == set(LEVELS), "place new folders in LEVELS and in the README's map"
    assert folders - set(LEVELS) == PACKAGE_DATA


@pytest.mark.parametrize("unit", sorted(LEVELS))
def test_imports_run_one_way(unit):
    wrong = []
    for owner, path in modules():
        if owner != unit:
            continue
        for module in imports_of(path):
            target = unit_of(module)
            if target in (None, "__version__", unit):
                continue
            if target not in LEVELS or LEVELS[target] >= LEVELS[unit]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_rule_catches_an_upward_import(tmp_path, monkeypatch):
    bad = tmp_path / "vesselnet" / "models" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from vesselnet.inference import predict_image\n"
                   "def f():\n    import vesselnet.cli\n", encoding="utf-8")
    assert list(imports_of(bad)) == ["vesselnet.inference", "vesselnet.cli"]
    assert [LEVELS[unit_of(name)] >= LEVELS["models"] for name in imports_of(bad)] == [
        True, True]
