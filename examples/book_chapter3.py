"""The book's chapter 3 network with 100 hidden neurons, as the book types it, with one import changed.

    python examples/book_chapter3.py [epochs] [seed] [dtype]

Nielsen's network2.py: [784, 100, 10], the cross-entropy cost, N(0, 1/n_in) weights (the default
initializer), eta 0.5, lmbda 5.0, mini-batches of 10, 30 epochs, monitored on the validation data;
he reports 98.04% on the validation data.  ``seed`` seeds ``np.random`` and ``random`` as the
book's code uses them; ``MLP_BACKEND=cupy`` runs it on a GPU.  After the book's lines it prints the
best and last validation accuracy, the test accuracy and the seconds per epoch (training plus the
validation measurement).
"""

import random
import sys
import time

import numpy as np

from mlp.book import mnist_loader, network2

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
dtype = sys.argv[3] if len(sys.argv) > 3 else "float32"

np.random.seed(seed)
random.seed(seed)
training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
net = network2.Network([784, 100, 10], cost=network2.CrossEntropyCost, dtype=dtype)
start = time.perf_counter()
evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = net.SGD(
    training_data, epochs, 10, 0.5, lmbda=5.0, evaluation_data=validation_data, monitor_evaluation_accuracy=True
)
seconds = time.perf_counter() - start
n = len(validation_data)
print(
    f"validation accuracy: best {max(evaluation_accuracy) / n:.2%} (epoch {int(np.argmax(evaluation_accuracy))}), "
    f"last {evaluation_accuracy[-1] / n:.2%}; test accuracy {net.accuracy(test_data) / len(test_data):.2%}; "
    f"{seconds / len(evaluation_accuracy):.2f} s per epoch, {seconds:.0f} s in all (seed {seed}, {dtype})"
)
