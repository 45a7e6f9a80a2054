"""The GPU proof: the suite on CuPy, JAX and torch on CUDA, `mlp bench`, MNIST trained on the GPU and evaluated on
NumPy, and the report, in one call within a time budget.  `python -m tools.gpu --help` says how to run it.

One module per step: `step_setup` (with `venv` and `machine`), `step_tests`, `step_bench`, `step_mnist`; `run` runs
them in order, each within its share of the budget (`plan`), through `procs`; `report` writes the page from the
run's record, `readback` reads pytest's and `mlp bench`'s output back; `probe` is the one process that imports
the array libraries; `pack` (with `wheel`) builds what travels to an offline GPU machine.
"""
