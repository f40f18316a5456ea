"""Imports go one way: down the stages, from the command line to the foundations.

Every `import keras_s2v...` in every module, at top level or inside a function, is read with
`ast`; a module may import from its own layer or a lower one, never from a higher one.
"""

import ast
import pathlib

import keras_s2v

# Lowest first. A module belongs to the layer that lists its first name under keras_s2v.
LAYERS = (
    ("errors", "quiet", "geometry", "windows", "lazy", "model_versions"),  # the contract and foundations
    ("media", "speech", "faces"),  # media in and out, speech made here, faces found and drawn
    ("models",),
    ("data",),
    ("training", "saving", "precision"),
    ("export",),
    ("serving_client",),  # runtimes
    ("dubbing", "evaluation"),  # use
    ("live",),  # dubbing as the speech arrives
    ("lab", "web"),  # applications
    ("cli", "__main__", "__init__"),  # command line
)
PACKAGE = pathlib.Path(keras_s2v.__file__).parent


def _layer(module):
    name = module.split(".")[1] if "." in module else "__init__"
    for rank, members in enumerate(LAYERS):
        if name in members:
            return rank
    raise AssertionError(f"keras_s2v.{name} is in no layer of tests/test_layering.py")


def _is_module(name):
    return (PACKAGE / f"{name}.py").exists() or (PACKAGE / name).is_dir()


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("keras_s2v"):
            if node.module == "keras_s2v":  # `from keras_s2v import faces` names a module, `__version__` does not
                yield from (f"keras_s2v.{alias.name}" if _is_module(alias.name) else "keras_s2v" for alias in node.names)
            else:
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("keras_s2v"))


def _module(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def test_no_module_imports_from_a_higher_layer():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _module(path)
        for imported in _imports(path):
            if imported != "keras_s2v" and _layer(imported) > _layer(importer):
                upward.append(f"{importer} -> {imported}")
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_every_module_is_in_a_layer():
    for path in PACKAGE.rglob("*.py"):
        _layer(_module(path))
