"""The book's chapter 1 session, as the book types it, with one import changed.

    python examples/book_chapter1.py [epochs] [seed] [dtype]

Nielsen's network.py: [784, 30, 10] sigmoid neurons, the quadratic cost, N(0, 1) weights and
biases, eta 3.0, mini-batches of 10, 30 epochs; he reports 95.42% (his best of three runs).
``seed`` seeds ``np.random`` (initial weights) and ``random`` (the shuffles), as the book's code
uses them; ``MLP_BACKEND=cupy`` runs it on a GPU.  After the book's ``Epoch j: correct / 10000``
lines it prints the best and last test accuracy and the seconds per epoch (training plus the
book's evaluation on the test data), taken from when each epoch's line appeared.
"""

import random
import re
import sys
import time

import numpy as np

from mlp.book import mnist_loader, network

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
dtype = sys.argv[3] if len(sys.argv) > 3 else "float32"


class EpochClock:
    """Stands in for stdout while SGD runs: passes every line through and notes when each one appeared."""

    def __init__(self, out):
        self.out, self.lines, self.times, self.partial = out, [], [], ""

    def write(self, text):
        self.out.write(text)
        self.partial += text
        while "\n" in self.partial:
            line, self.partial = self.partial.split("\n", 1)
            self.lines.append(line)
            self.times.append(time.perf_counter())
        return len(text)

    def flush(self):
        self.out.flush()


np.random.seed(seed)
random.seed(seed)
training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
net = network.Network([784, 30, 10], dtype=dtype)  # the book's line, plus the dtype this script was given

clock = EpochClock(sys.stdout)
sys.stdout, start = clock, time.perf_counter()
try:
    net.SGD(training_data, epochs, 10, 3.0, test_data=test_data)
finally:
    sys.stdout = clock.out
correct = [int(m[1]) for m in (re.fullmatch(r"Epoch \d+: (\d+) / \d+", line) for line in clock.lines) if m]
seconds = np.diff([start] + clock.times)
n = len(test_data)
best = int(np.argmax(correct))
print(
    f"test accuracy: best {correct[best] / n:.2%} (epoch {best}), last {correct[-1] / n:.2%}; "
    f"{np.mean(seconds):.2f} s per epoch, {sum(seconds):.0f} s in all (seed {seed}, {dtype})"
)
