"""The classic TensorFlow 1 MNIST softmax-regression tutorial, on mlir-lite.

    .venv/bin/python examples/mnist_tf1.py

Only the imports differ from the TensorFlow program. `get_mnist` reads the MNIST IDX files
from $MLIR_LITE_MNIST when set, else uses the vendored UCI handwritten digits (upsampled to
28x28). Every `sess.run` with the same fetches and feed signature reuses one compiled function
(forward, gradient and update of W fused in one `func.func`).
"""
import time

import mlir_lite.dsl as tf
from mlir_lite.dsl.datasets import get_mnist

t0 = time.perf_counter()
x = tf.placeholder(tf.float32, [None, 784])
W = tf.Variable(tf.zeros([784, 10]))
y = tf.nn.softmax(tf.matmul(x, W))
y_ = tf.placeholder(tf.float32, [None, 10])
cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
learning_rate = 0.5
W_grad = tf.gradients(cross_entropy, [W])[0]
train_step = tf.assign(W, W - learning_rate * W_grad)
sess = tf.Session()
sess.run(tf.initialize_all_variables())
mnist = get_mnist(flatten=True, onehot=True)
for _i in range(1000):
    batch_xs, batch_ys = mnist.train.next_batch(100)
    sess.run(train_step, feed_dict={x: batch_xs, y_: batch_ys})

correct = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
acc = sess.run(accuracy, feed_dict={x: mnist.test.images, y_: mnist.test.labels})
t1 = time.perf_counter()
print(f"test accuracy: {acc:.4f}  ({len(mnist.test.images)} test images, {mnist.source})")
print(f"wall time: {t1 - t0:.2f} s for 1000 training steps + evaluation "
      f"({sess.compile_count} compiled functions)")
