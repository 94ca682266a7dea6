// Per-event identifier checks: TID/rev comparison and validation, DID validation, repo paths.
// Each measured call works through an array of realistic inputs so the JIT cannot fold a
// constant; the road not taken (regex for TIDs, a char loop for DIDs) is printed beside each for comparison.

import { measure, note } from '../../../bench/harness.ts'
import { didProblem, isValidDid, isValidDidPlc } from './did.ts'
import { isValidHandle } from './handle.ts'
import { isValidRepoPath } from './repo-path.ts'
import { compareTid, createTid, isValidTid } from './tid.ts'

const N = 1024
const base = 1_700_000_000_000_000
const tids: string[] = []
for (let i = 0; i < N; i++) tids.push(createTid(base + i * 7919 * 1000, i % 1024))
const dids: string[] = []
const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
for (let i = 0; i < N; i++) {
  let id = ''
  for (let j = 0; j < 24; j++) id += alphabet[(i * 31 + j * 7) % 32]
  dids.push(i % 16 === 0 ? `did:web:pds${i}.example.com` : `did:plc:${id}`)
}
const paths = tids.map((t, i) => `${i % 2 ? 'app.bsky.feed.like' : 'app.bsky.feed.post'}/${t}`)
const handles = dids.map((_, i) => `user${i}.bsky.social`)

// Strings decoded from the wire are flat; the concatenations above built ropes, so flatten them
// the way a decoder would hand them over.
const flat = (xs: string[]): string[] => xs.map((x) => Buffer.from(x, 'utf8').toString('utf8'))
tids.splice(0, N, ...flat(tids))
dids.splice(0, N, ...flat(dids))
paths.splice(0, N, ...flat(paths))
handles.splice(0, N, ...flat(handles))

const TID_RE = /^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$/

let sink = 0
const opts = { opsPerCall: N }

measure(
  'compareTid (adjacent pairs)',
  () => {
    for (let i = 1; i < N; i++) sink += compareTid(tids[i - 1]!, tids[i]!)
    sink += compareTid(tids[N - 1]!, tids[0]!)
  },
  opts,
)
const tidFn = measure(
  'isValidTid',
  () => {
    for (let i = 0; i < N; i++) if (isValidTid(tids[i]!)) sink++
  },
  opts,
)
const tidRe = measure(
  '  baseline: one precompiled TID regex',
  () => {
    for (let i = 0; i < N; i++) if (TID_RE.test(tids[i]!)) sink++
  },
  opts,
)
note(`isValidTid vs regex: ${(tidFn.perSecond / tidRe.perSecond).toFixed(2)}x`)

const didFn = measure(
  'isValidDid (plc, 1/16 web)',
  () => {
    for (let i = 0; i < N; i++) if (isValidDid(dids[i]!)) sink++
  },
  opts,
)
const didLoop = measure(
  '  alternative: hand-written char-code loop (didProblem)',
  () => {
    for (let i = 0; i < N; i++) if (didProblem(dids[i]!) === undefined) sink++
  },
  opts,
)
note(`isValidDid (regex) vs loop: ${(didFn.perSecond / didLoop.perSecond).toFixed(2)}x`)
measure(
  'isValidDidPlc',
  () => {
    for (let i = 0; i < N; i++) if (isValidDidPlc(dids[i]!)) sink++
  },
  opts,
)
measure(
  'isValidRepoPath (collection/tid)',
  () => {
    for (let i = 0; i < N; i++) if (isValidRepoPath(paths[i]!)) sink++
  },
  opts,
)
measure(
  'isValidHandle',
  () => {
    for (let i = 0; i < N; i++) if (isValidHandle(handles[i]!)) sink++
  },
  opts,
)

note(`(sink ${sink})`)
