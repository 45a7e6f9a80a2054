"""Reference training loops for ``mlp bench``: what users of other libraries write by hand.

These are the benchmark's contenders, not part of the engine: each trains the same
network from the same weights on the same batches as ``mlp.fit`` so that epochs can be
timed side by side.  They are other libraries' code and the benchmark's, so they live in
mlp/bench (a face, which may import anything), not in backends/ (the engine's array libraries);
``numpy_loops`` holds the two plain NumPy loops (hand-written mini-batch, and the book's
per-example backprop).  Importing this package imports no library: each module's
``load()`` does.
"""
