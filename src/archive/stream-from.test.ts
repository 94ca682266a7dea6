// streamFrom: the bridge between a producer holding a read transaction and the HTTP writer.
// Checked: order and completion, back-pressure (the producer waits for the consumer), an early
// stop ends the producer (its transaction closes) before `return()` resolves, and a producer's
// failure reaches the consumer after the chunks before it.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { streamFrom } from './stream-from.ts'

describe('streamFrom', () => {
  it('hands every chunk over in order, then ends', async () => {
    const it = streamFrom<number>(async (push) => {
      for (let i = 0; i < 5; i++) assert.equal(await push(i), true)
    })
    const got: number[] = []
    for await (const n of it) got.push(n)
    assert.deepEqual(got, [0, 1, 2, 3, 4])
  })

  it('holds the producer back until the consumer takes what it pushed', async () => {
    let pushed = 0
    const it = streamFrom<number>(async (push) => {
      for (let i = 0; i < 10; i++) {
        await push(i)
        pushed++
      }
    })
    await new Promise((r) => setTimeout(r, 10))
    assert.ok(pushed <= 2, `the producer ran ahead by ${pushed}`)
    assert.deepEqual(await it.next(), { value: 0, done: false })
    await new Promise((r) => setTimeout(r, 10))
    assert.ok(pushed <= 3, `the producer ran ahead by ${pushed}`)
    await it.return?.()
  })

  it('an early stop ends the producer before return() resolves', async () => {
    let ended = false
    let refused = false
    const it = streamFrom<number>(async (push) => {
      try {
        for (let i = 0; ; i++) {
          if (!(await push(i))) {
            refused = true
            return
          }
        }
      } finally {
        ended = true
      }
    })
    for await (const n of it) if (n === 3) break
    assert.equal(ended, true)
    assert.equal(refused, true)
  })

  it('a failure reaches the consumer after the chunks before it', async () => {
    const it = streamFrom<number>(async (push) => {
      await push(1)
      throw new Error('disk gone')
    })
    assert.deepEqual(await it.next(), { value: 1, done: false })
    await assert.rejects(it.next(), /disk gone/)
    assert.deepEqual(await it.next(), { value: undefined, done: true })
  })
})
