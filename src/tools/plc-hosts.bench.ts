// Cost of `relay plc-hosts` per operation: parsing an export line, the DID table, and whole runs
// against a loopback mock export (pages of 1000, journal and checkpoints on a temp dir), plus the
// time to resume (replay the journal). The mock serves from the same process and core.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { measure, note } from '../../bench/harness.ts'
import { DidHostTable, encodeDid, newDidKey } from './plc-did-table.ts'
import { parseExportLine } from './plc-export.ts'
import { plcHosts } from './plc-hosts.ts'
import { PlcHostsState } from './plc-hosts-state.ts'
import {
  fakeCid,
  fakeDid,
  type MockExportOp,
  plcOperation,
  startMockPlcExport,
} from './testing/mock-plc-export.ts'

const N = 200_000
const dids = Array.from({ length: N }, (_, i) => fakeDid(`bench${i}`))
const ops: MockExportOp[] = dids.map((did, i) => ({
  did,
  cid: fakeCid(`bench${i}`),
  createdAt: new Date(Date.parse('2024-01-01T00:00:00Z') + i * 7).toISOString(),
  operation: plcOperation(`https://pds${i % 500}.example.com`, `user${i}.example.com`),
}))

const line = JSON.stringify({ ...ops[0], nullified: false })
note(`export line: ${line.length} bytes`)
measure('parseExportLine (plc_operation)', () => parseExportLine(line))

{
  const key = newDidKey()
  let i = 0
  let table = new DidHostTable()
  measure(
    'encodeDid + DidHostTable.set (new DIDs, tables of 200k)',
    () => {
      if (i === N) {
        i = 0
        table = new DidHostTable()
      }
      encodeDid(dids[i++]!, key)
      table.set(key, i % 500)
    },
    { minMs: 1000 },
  )
}

const mock = await startMockPlcExport(ops)
const dir = await mkdtemp(join(tmpdir(), 'plc-hosts-bench-'))
try {
  const out = join(dir, 'hosts.txt')
  const started = performance.now()
  const result = await plcHosts({ plcUrl: mock.url, out, userAgent: 'bench', pageSize: 1000 })
  const seconds = (performance.now() - started) / 1000
  note(
    `full run, ${N.toLocaleString('en-US')} operations in pages of 1000 over loopback: ` +
      `${Math.round(result.operations / seconds).toLocaleString('en-US')} ops/s (${seconds.toFixed(2)} s)`,
  )
  const opened = performance.now()
  const state = await PlcHostsState.open(`${out}.state.json`, mock.url)
  const replay = (performance.now() - opened) / 1000
  note(
    `resume: journal replay of ${state.table.size.toLocaleString('en-US')} DIDs in ${replay.toFixed(2)} s ` +
      `(${Math.round(state.table.size / replay).toLocaleString('en-US')} DIDs/s)`,
  )
  await state.close()
} finally {
  await mock.close()
  await rm(dir, { recursive: true, force: true })
}
