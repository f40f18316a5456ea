"""Fuzzing of the readers with atheris: `make fuzz`, or `python -m fuzz.run --help`.

`targets` holds one harness per reader, `seeds` writes their seed corpus of broken files, `run`
runs each harness in its own process for a set time and reports what it found. Not part of the
installed package: atheris is a test dependency.
"""
