"""solvent benchmarks: problem suites run through solvent and the reference solvers."""
