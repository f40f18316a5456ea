"""What runs the library rather than being it: `synth` (the synthetic talking-face corpus), `demo`
(`s2v demo`, the whole system end to end) and `benchmarks` (`make bench`)."""
