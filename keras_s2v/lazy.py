"""Packages whose names are imported from their modules when first used, so importing the package is cheap."""

import importlib
import sys


def lazy_names(package: str, homes: dict) -> tuple:
    """(__all__, __getattr__, __dir__) for the package named `package`: each name in `homes`
    ({module: names}) is imported from `package.module` the first time it is asked for."""
    modules = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name):
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{modules[name]}"), name)

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(modules))

    return sorted(modules), __getattr__, __dir__
