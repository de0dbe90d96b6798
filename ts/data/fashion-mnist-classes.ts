/** Fashion-MNIST's class names: plain data, so that browsers and Node share one list. */

/** The ten classes, indexed by label (Zalando's fashion-mnist README). */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
])
