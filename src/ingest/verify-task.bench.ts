// The verify task (what a verify worker runs per `#commit`) over the load generator's own
// commits: sync 1.1 commits of ~3.3 KB on repos of ~300 records (MST depth 4), creates, updates
// and deletes, 90% k256 and 10% p256 keys, each frame in a plain Uint8Array as a worker gets it.
// One thread, CPU time per commit (process.cpuUsage), the best of passes 2-4 (the first warms
// up); with the signature check, and with it answered true (the rest of verification alone).
// The workload is the load generator's cache (data/loadgen/cache), generated once if missing.
import { join } from 'node:path'
import { note } from '../../bench/harness.ts'
import { ensureWorkload, KIND, readWorkload } from '../../bench/loadgen/workload.ts'
import { decodeFrame } from '../protocol/frame.ts'
import { createVerifier, k256Library } from '../verify/crypto/signature.ts'
import { runVerifyTask } from './verify-task.ts'

const EVENTS = 15_000
const params = { hosts: 20, accounts: 2000, records: 300, seed: 1, events: EVENTS }
const { dir } = await ensureWorkload(join('data', 'loadgen', 'cache'), params, note)
const w = await readWorkload(dir, EVENTS)
const keys = new Map(w.manifest.accounts.map((a) => [a.did, `did:key:${a.publicKeyMultibase}`]))
const commits: { frame: Uint8Array; didKey: string }[] = []
for (let i = 0; i < w.frames.length; i++) {
  if (w.kinds[i] !== KIND.commit) continue
  const frame = new Uint8Array(w.frames[i]!)
  const decoded = decodeFrame(frame)
  if (decoded.op !== 1) throw new Error('the load generator sent an error frame')
  const did = (decoded.body as { repo: string }).repo
  commits.push({ frame, didKey: keys.get(did)! })
}
const bytes = commits.reduce((n, c) => n + c.frame.length, 0)
note(
  `${commits.length} commits of the load generator, ${Math.round(bytes / commits.length)} bytes on average`,
)

const verifier = createVerifier()
note(`k256 signatures: ${verifier.k256Backend}, ${k256Library ?? 'no libsecp256k1'}`)
for (const [label, check] of [
  ['with the signature check', verifier.verifySignature],
  ['signature answered true', () => true],
] as const) {
  let best = Number.POSITIVE_INFINITY
  for (let pass = 0; pass < 4; pass++) {
    const t0 = process.cpuUsage()
    for (const c of commits) {
      const r = await runVerifyTask(
        { frame: c.frame, didKey: c.didKey, previous: null, now: Date.now(), mode: 'strict' },
        check,
      )
      if (!r.ok) throw new Error(`load generator commit rejected: ${r.reason} ${r.detail}`)
    }
    const used = process.cpuUsage(t0)
    if (pass > 0) best = Math.min(best, (used.user + used.system) / commits.length)
  }
  note(`verify task, ${label}: ${best.toFixed(1)} µs CPU per commit (best of passes 2-4)`)
}
