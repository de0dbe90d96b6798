/**
 * A grid of test images, most uncertain first: each a 28 x 28 canvas (scaled up by CSS, pixelated)
 * with the predicted class, whether it is right, and the predictive entropy.
 */

import { PIXELS, SIDE } from './pixels.js'
import type { Split } from './protocol.js'

export interface GridPrediction {
  classes: Int32Array
  entropy: Float32Array
}

/** Indices of the `count` highest entropies, highest first (ties: lower index first). */
export function mostUncertain(entropy: Float32Array, count: number): number[] {
  const order = Array.from(entropy.keys()).sort((a, b) => entropy[b] - entropy[a] || a - b)
  return order.slice(0, count)
}

function drawImage(canvas: HTMLCanvasElement, pixels: Uint8Array): void {
  const context = canvas.getContext('2d')
  if (context === null) return
  const image = context.createImageData(SIDE, SIDE)
  pixels.forEach((v, i) => image.data.set([v, v, v, 255], i * 4))
  context.putImageData(image, 0, 0)
}

function span(className: string, text: string): HTMLSpanElement {
  const element = document.createElement('span')
  element.className = className
  element.textContent = text
  return element
}

/** Fills `list` (an <ol>) with one <li> per image; each carries data-index and data-entropy. */
export function renderImageGrid(
  list: HTMLOListElement,
  test: Split,
  prediction: GridPrediction,
  classNames: readonly string[],
  count: number,
): void {
  const items = mostUncertain(prediction.entropy, count).map((i) => {
    const predicted = classNames[prediction.classes[i]] ?? '?'
    const actual = classNames[test.labels[i]] ?? '?'
    const right = prediction.classes[i] === test.labels[i]
    const entropy = prediction.entropy[i].toFixed(2)

    const item = document.createElement('li')
    item.className = right ? 'right' : 'wrong'
    item.dataset.index = String(i)
    item.dataset.entropy = String(prediction.entropy[i])
    const canvas = document.createElement('canvas')
    canvas.width = SIDE
    canvas.height = SIDE
    canvas.setAttribute('role', 'img')
    canvas.setAttribute('aria-label', `test image ${i}: a ${actual}`)
    drawImage(canvas, test.pixels.subarray(i * PIXELS, (i + 1) * PIXELS))
    // Right or wrong in words (for screen readers) and by a mark, never by colour alone.
    const caption = document.createElement('p')
    const mark = span('mark', right ? '✓ ' : '✗ ')
    mark.setAttribute('aria-hidden', 'true')
    const name = document.createElement('b')
    name.textContent = predicted
    caption.append(
      mark,
      span('visually-hidden', right ? 'right: ' : 'wrong: '),
      name,
      document.createElement('br'),
      span('entropy', `${entropy} nats${right ? '' : `, is ${actual}`}`),
    )
    item.append(canvas, caption)
    return item
  })
  list.replaceChildren(...items)
}
