"""The book's chapter 1 network: [784, 30, 10], sigmoid, quadratic cost, eta 3.0, mini-batch 10, 30 epochs.

Nielsen reports 95.42% (his best of three runs). Same code as the book's, one import changed:
``MLP_BACKEND=cupy python examples/book_chapter1.py`` runs it on a GPU.
"""
import sys
import time

from mlp.book import Network, QuadraticCost, load_data_wrapper

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
training_data, validation_data, test_data = load_data_wrapper()
net = Network([784, 30, 10], cost=QuadraticCost)
net.large_weight_initializer()  # network.py's N(0, 1) weights and biases
start = time.perf_counter()
net.SGD(training_data, epochs, 10, 3.0, test_data=test_data)
seconds = net.history.history["seconds"]
correct = net.monitor.test_correct
print(f"test accuracy: best {max(correct) / len(test_data):.2%} (epoch {correct.index(max(correct))}), "
      f"last {correct[-1] / len(test_data):.2%}; "
      f"{sum(seconds) / len(seconds):.2f} s of training per epoch ({time.perf_counter() - start:.0f} s in all)")
