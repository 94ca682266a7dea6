// Loads the captured relay scenarios (fixtures/relay-scenarios/*.json): each file lists the
// accounts involved (identity and status) and upstream frames, stored as JSON with `$bytes` and
// `$link`, each marked with the relay's expected outcome (`drop`). This turns them into the exact
// frame bytes a PDS would send.
import { readdirSync } from 'node:fs'
import { fromJson } from '../../src/protocol/cbor/data-model.ts'
import { encodeMessageFrame } from '../../src/protocol/frame.ts'
import { fixturePath, readFixtureJson } from './fixtures.ts'

export interface ScenarioIdentity {
  readonly did: string
  readonly handle: string
  readonly alsoKnownAs: string[]
  readonly services: { atproto_pds: { type: string; url: string } }
  readonly keys: { atproto: { type: string; publicKeyMultibase: string } }
}

export interface ScenarioMessage {
  readonly drop: boolean
  readonly invalid: boolean
  readonly update: boolean
  readonly frame: { header: { op: number; t: string }; body: Record<string, unknown> }
}

export interface Scenario {
  readonly name: string
  readonly description?: string
  readonly lenient: boolean
  readonly accounts: { identity: ScenarioIdentity; status: string }[]
  readonly messages: ScenarioMessage[]
}

export function scenarioNames(): string[] {
  return readdirSync(fixturePath('relay-scenarios'))
    .filter((f) => f.endsWith('.json'))
    .sort()
}

export function loadScenario(file: string): Scenario {
  return { name: file, ...readFixtureJson<Omit<Scenario, 'name'>>('relay-scenarios', file) }
}

/** The frame bytes of a scenario message, as the PDS sent it. */
export function scenarioFrame(m: ScenarioMessage): Uint8Array {
  return encodeMessageFrame(m.frame.header.t, fromJson(m.frame.body) as Record<string, unknown>)
}
