// EndOfTurn: asked many times in a turn, the work runs once, after the turn; `now` runs it at
// once and the run already queued is then not made.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { EndOfTurn } from './end-of-turn.ts'

const turn = () => new Promise((r) => setImmediate(r))

it('runs once at the end of the turn however often it is queued; now() takes the queued run', async () => {
  let runs = 0
  const sends = new EndOfTurn(() => runs++)
  sends.queue()
  sends.queue()
  assert.equal(runs, 0, 'not before the turn ends')
  await turn()
  assert.equal(runs, 1)
  sends.queue()
  sends.now()
  assert.equal(runs, 2, 'at once')
  await turn()
  assert.equal(runs, 2, 'the queued run is not made again')
  sends.queue()
  await turn()
  assert.equal(runs, 3, 'queued again after a run')
})
