/**
 * The demo page: reads the controls (defaults from the query string), fetches the data once,
 * starts a Session of two training workers and routes what they report to the view.
 */

import { plural, seconds } from '../ts/cli/format.js'
import type { EpochLog } from '../ts/model/fit.js'
import { fetchSubset, firstExamples, type Subset } from './fashion-mnist.js'
import type { BackendChoice, FromWorker, RunName, TrainRequest } from './protocol.js'
import { Session } from './session.js'
import { readSettings, type Settings } from './settings.js'
import * as view from './view.js'

const RUNS: readonly RunName[] = ['dropout', 'baseline']
/** The CLI demo's first seed. */
const SEED = 1

const form = view.element('controls', HTMLFormElement)
const settingsBox = view.element('settings', HTMLFieldSetElement)
const startButton = view.element('start', HTMLButtonElement)
const stopButton = view.element('stop', HTMLButtonElement)
const inputs = {
  inputDropout: view.element('input-dropout', HTMLInputElement),
  hiddenDropout: view.element('hidden-dropout', HTMLInputElement),
  epochs: view.element('epochs', HTMLInputElement),
  backend: view.element('backend-choice', HTMLSelectElement),
}

const initial = readSettings(location.search)
inputs.inputDropout.value = String(initial.inputDropout)
inputs.hiddenDropout.value = String(initial.hiddenDropout)
inputs.epochs.value = String(initial.epochs)
inputs.backend.value = initial.backend

view.reset()

let subset: Promise<Subset> | undefined
let session: Session | undefined
/** Bumped by every start and stop, so a start still fetching data knows it was overtaken. */
let generation = 0

function controlsSettings(): Settings {
  return {
    ...initial,
    inputDropout: inputs.inputDropout.valueAsNumber,
    hiddenDropout: inputs.hiddenDropout.valueAsNumber,
    epochs: inputs.epochs.valueAsNumber,
    backend: inputs.backend.value as BackendChoice,
  }
}

function setRunning(running: boolean): void {
  // Keyboard users keep their place: focus follows the button that becomes usable.
  const hadFocus = document.activeElement === (running ? startButton : stopButton)
  settingsBox.disabled = running
  startButton.disabled = running
  stopButton.disabled = !running
  if (hadFocus) (running ? stopButton : startButton).focus()
}

function fail(message: string): void {
  session?.dispose()
  session = undefined
  view.showError(message)
  view.status('Stopped by an error (shown below the status).')
  view.setState('error')
  setRunning(false)
  // Reported to the console as well, for developers (and so an automated run cannot miss it).
  console.error(`thinnet demo: ${message}`)
}

async function start(settings: Settings): Promise<void> {
  const mine = ++generation
  session?.dispose()
  view.reset()
  setRunning(true)
  view.setState('loading')
  view.status('Loading the Fashion-MNIST subset…')
  let data: Subset
  try {
    data = await (subset ??= fetchSubset())
  } catch (error) {
    subset = undefined
    if (mine === generation) fail(`cannot load Fashion-MNIST: ${error instanceof Error ? error.message : String(error)}`)
    return
  }
  if (mine !== generation) return
  const train = settings.trainCount === undefined ? data.train : firstExamples(data.train, settings.trainCount)
  const jobs: TrainRequest[] = RUNS.map((run) => ({
    type: 'train',
    run,
    backend: settings.backend,
    train,
    test: data.test,
    epochs: settings.epochs,
    inputDropout: run === 'dropout' ? settings.inputDropout : 0,
    hiddenDropout: run === 'dropout' ? settings.hiddenDropout : 0,
    seed: SEED,
    mcSamples: run === 'dropout' ? settings.mcSamples : 0,
  }))
  const logs: Record<RunName, EpochLog[]> = { dropout: [], baseline: [] }
  const started = performance.now()
  view.status(
    `Loading WebAssembly and training on ${train.labels.length.toLocaleString('en-US')} images, ${plural(settings.epochs, 'epoch')} per run…`,
  )

  const onMessage = (message: FromWorker): void => {
    switch (message.type) {
      case 'ready':
        view.backendInfo(message.backend, message.isa)
        break
      case 'batch':
        view.speed(message.run, message.examplesPerSecond)
        view.progress(message.run, (message.epoch - 1 + message.batch / message.batches) / settings.epochs)
        break
      case 'epoch':
        logs[message.run].push(message.log)
        view.curves(logs)
        view.status(view.epochStatus(logs))
        break
      case 'trained': {
        view.trained(message.run, message)
        // The run's mean throughput (training time only), in place of the last batch's.
        const log = logs[message.run]
        view.speed(message.run, (train.labels.length * log.length) / log.reduce((sum, l) => sum + l.seconds, 0))
        break
      }
      case 'mc-start':
        view.status(`Monte Carlo dropout: ${message.samples} passes over ${data.test.labels.length.toLocaleString('en-US')} test images…`)
        break
      case 'mc':
        view.monteCarlo(message.report, data.test)
        break
    }
  }
  session = new Session(jobs, {
    message: onMessage,
    state: view.setState,
    end: (how) => {
      session = undefined
      setRunning(false)
      const took = seconds((performance.now() - started) / 1000)
      view.status(how === 'done' ? `Done in ${took}. Results below.` : `Stopped after ${took}.`)
      view.setState(how === 'done' ? 'done' : 'idle')
    },
    failed: fail,
  })
}

form.addEventListener('submit', (event) => {
  event.preventDefault()
  void start(controlsSettings())
})

stopButton.addEventListener('click', () => {
  if (session !== undefined) {
    view.status('Stopping…')
    session.stop()
  } else {
    // Still fetching the data: forget that start.
    generation++
    setRunning(false)
    view.setState('idle')
    view.status('Stopped.')
  }
})

// Anything that escapes the handlers above is still shown, not left in the console alone.
addEventListener('error', (event) => fail(event.message))
addEventListener('unhandledrejection', (event) => fail(String(event.reason)))

if (initial.autostart) void start(initial)
