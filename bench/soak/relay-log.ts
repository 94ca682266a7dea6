// The relay's stderr during a soak: every line copied to relay.log, and counted by pino level
// (lines that are not JSON count as errors: an uncaught exception or a warning from Node; the
// inspector's own notices are expected in a probed soak and not counted). Only the first 30
// warnings are kept: the harness holds them in memory for the summary.
import { createWriteStream, type WriteStream } from 'node:fs'
import { isInspectorNotice } from './gc-probe.ts'

export class RelayLog {
  readonly levels = new Map<number, number>()
  readonly warnings: string[] = []
  readonly #lines: string[]
  readonly #file: WriteStream

  /** `lines` is the relay process's buffer of stderr lines; `drain` empties it. */
  constructor(lines: string[], path: string) {
    this.#lines = lines
    this.#file = createWriteStream(path)
  }

  drain(): void {
    for (const line of this.#lines.splice(0)) {
      this.#file.write(`${line}\n`)
      if (isInspectorNotice(line)) continue
      let level = 0
      try {
        level = (JSON.parse(line) as { level?: number }).level ?? 0
      } catch {
        level = 50
      }
      this.levels.set(level, (this.levels.get(level) ?? 0) + 1)
      if (level >= 40 && this.warnings.length < 30) this.warnings.push(line.slice(0, 400))
    }
  }

  end(): void {
    this.#file.end()
  }
}
