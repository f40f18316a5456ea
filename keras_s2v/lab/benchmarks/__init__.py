"""`make bench`: throughput measurements written to BENCHMARKS.md (`python -m keras_s2v.lab.benchmarks`).

These machines are noisy: every figure is the median of several repeats, and ratios are taken between
figures measured in the same run. One module per benchmark; `timing` holds what they share.
"""
