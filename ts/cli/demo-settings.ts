/** The demo's settings: DEMO (demo-config.ts) with the flags that override it. */

import type { DemoConfig } from './demo-config.js'

export interface DemoSettings extends DemoConfig {
  /** The backend forced with --backend (undefined: automatic). */
  backend: 'native' | 'wasm' | 'wasm-scalar' | undefined
  /** No progress bars and no per-epoch lines. */
  quiet: boolean
}
