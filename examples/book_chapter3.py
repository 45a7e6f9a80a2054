"""The book's chapter 3 network: [784, 100, 10], cross-entropy, eta 0.5, lmbda 5.0, mini-batch 10, 30 epochs,
N(0, 1/n_in) weights. Nielsen reports about 98% (98.04% on the validation data in his run).

``MLP_BACKEND=cupy python examples/book_chapter3.py`` runs it on a GPU.
"""
import sys
import time

from mlp.book import CrossEntropyCost, Network, load_data_wrapper

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
training_data, validation_data, test_data = load_data_wrapper()
net = Network([784, 100, 10], cost=CrossEntropyCost)  # default_weight_initializer: N(0, 1/n_in)
start = time.perf_counter()
evaluation_cost, evaluation_accuracy, _, _ = net.SGD(
    training_data, epochs, 10, 0.5, lmbda=5.0, evaluation_data=validation_data,
    monitor_evaluation_accuracy=True)
seconds = net.history.history["seconds"]
n = len(validation_data)
print(f"validation accuracy: best {max(evaluation_accuracy) / n:.2%}, last {evaluation_accuracy[-1] / n:.2%}; "
      f"test accuracy {net.evaluate(test_data) / len(test_data):.2%}; "
      f"{sum(seconds) / len(seconds):.2f} s of training per epoch ({time.perf_counter() - start:.0f} s in all)")
