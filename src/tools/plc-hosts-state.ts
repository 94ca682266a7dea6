// The resumable state of `relay plc-hosts`: the DID → host table, the interned host names, the
// export cursor and counters, kept on disk so a killed run continues where it stopped.
//
// Layout: `<state>.json` (small: cursor, counters, journal length, written to a temp file,
// fsync'd and renamed) and `<state>.journal` (append-only binary: a host record the first time a
// hostname is seen, a DID record each time a DID's value changes). The JSON names how many
// journal bytes belong to it; a resume replays exactly that prefix into a fresh table and cuts off
// anything after it (records of pages whose checkpoint never happened; those pages are fetched
// again). Records (little-endian uint32 words):
//   DID:  [k0, k1, k2, k3, value]            k0 < 2^30, so its top bit is 0 (20 bytes)
//   host: [0x80000000 | length, ASCII bytes padded to 4]
// Why a journal and not a snapshot of the table: for 40M DIDs a snapshot is ~800 MB; taking one
// every minute of a run that lasts hours would write hundreds of GB. The journal is written once:
// ~20 B per DID plus 20 B per PDS move (~1 GB for the full network), each checkpoint appends only
// what changed since the last (fsync'd before the JSON that refers to it). Resuming replays it
// (~5M records/s measured on 200k DIDs; expect 10–30 s for 40M). A run that finished keeps its
// state: running again fetches only newer operations and rewrites the outputs.
// Changes are buffered in memory between checkpoints; the owner checkpoints when `pendingBytes`
// passes its bound, so the buffer is bounded by that plus one page.
// A `<state>.lock` file (plc-files.ts) keeps two runs off one state.
// Deliberately not here: what the export says or when to checkpoint (plc-hosts.ts).

import { type FileHandle, open, readFile } from 'node:fs/promises'
import { DidHostTable, type DidKey, newDidKey } from './plc-did-table.ts'
import { acquireLockFile, LockHeldError, writeFileAtomic } from './plc-files.ts'

/** Table value of a DID whose latest operation declares no PDS (or is a tombstone). */
export const NO_PDS = 0xffffffff
/** Table value of a DID whose PDS endpoint is not a crawlable https hostname. */
export const REFUSED = 0xfffffffe

const FORMAT = 'relay-plc-hosts/1'
const HOST_FLAG = 0x80000000
const DID_RECORD_BYTES = 20
const READ_CHUNK = 1 << 20

export type PlcHostsStateErrorCode =
  | 'locked' // another live process holds the state's lock file
  | 'corrupt' // the JSON or the journal does not parse, or they disagree
  | 'plc-mismatch' // the state was made from another PLC directory

export class PlcHostsStateError extends Error {
  override readonly name = 'PlcHostsStateError'
  readonly code: PlcHostsStateErrorCode
  readonly path: string

  constructor(code: PlcHostsStateErrorCode, path: string, message: string, cause?: unknown) {
    super(message, { cause })
    this.code = code
    this.path = path
  }
}

export interface StateCounters {
  /** Export lines applied (after dropping the overlap between pages), across all runs. */
  operations: number
  /** Lines that were not JSON or lacked did, cid or createdAt. */
  malformed: number
  /** Times more than a page of operations shared one createdAt and the rest had to be skipped. */
  tieSkips: number
}

interface StateFile extends StateCounters {
  format: string
  plcUrl: string
  after: string | null
  boundary: string[]
  journalBytes: number
  complete: boolean
}

export class PlcHostsState {
  readonly table = new DidHostTable()
  readonly hosts: string[] = []
  readonly counters: StateCounters
  /** createdAt of the newest operation applied, as the directory wrote it; null at the start. */
  after: string | null
  /** CIDs of the applied operations whose createdAt is `after`'s millisecond. */
  boundary: string[]
  /** True once the outputs were written for the current cursor. */
  complete: boolean
  readonly #path: string
  readonly #plcUrl: string
  readonly #journal: FileHandle
  readonly #release: () => Promise<void>
  readonly #hostIndex = new Map<string, number>()
  #journalBytes: number
  #pending = new Uint8Array(64 * 1024)
  #pendingView = new DataView(this.#pending.buffer)
  #pendingBytes = 0

  private constructor(
    path: string,
    plcUrl: string,
    journal: FileHandle,
    release: () => Promise<void>,
    file: StateFile,
  ) {
    this.#path = path
    this.#plcUrl = plcUrl
    this.#journal = journal
    this.#release = release
    this.#journalBytes = file.journalBytes
    this.after = file.after
    this.boundary = file.boundary
    this.complete = file.complete
    this.counters = {
      operations: file.operations,
      malformed: file.malformed,
      tieSkips: file.tieSkips,
    }
  }

  /** Locks and loads the state at `path` (JSON) and its journal, or starts an empty one. */
  static async open(path: string, plcUrl: string): Promise<PlcHostsState> {
    const lockPath = `${path}.lock`
    let release: () => Promise<void>
    try {
      release = await acquireLockFile(lockPath)
    } catch (err) {
      if (!(err instanceof LockHeldError)) throw err
      throw new PlcHostsStateError(
        'locked',
        lockPath,
        `${err.message}; if no other plc-hosts run is using it, delete the file`,
        err,
      )
    }
    let journal: FileHandle | undefined
    try {
      const file = await readStateFile(path, plcUrl)
      const journalPath = journalPathFor(path)
      await (await open(journalPath, 'a')).close()
      journal = await open(journalPath, 'r+')
      const state = new PlcHostsState(path, plcUrl, journal, release, file)
      await state.#replay(journalPath)
      await journal.truncate(file.journalBytes)
      return state
    } catch (err) {
      await journal?.close()
      await release()
      throw err
    }
  }

  /** Bytes of changes not yet written to the journal. */
  get pendingBytes(): number {
    return this.#pendingBytes
  }

  /** The index of `hostname`, interning (and journaling) it the first time. */
  hostIndex(hostname: string): number {
    const known = this.#hostIndex.get(hostname)
    if (known !== undefined) return known
    const index = this.hosts.length
    this.hosts.push(hostname)
    this.#hostIndex.set(hostname, index)
    const bytes = Buffer.from(hostname, 'latin1')
    this.#reserve(4 + Math.ceil(bytes.length / 4) * 4)
    this.#pendingView.setUint32(this.#pendingBytes, HOST_FLAG | bytes.length, true)
    this.#pending.set(bytes, this.#pendingBytes + 4)
    this.#pendingBytes += 4 + Math.ceil(bytes.length / 4) * 4
    return index
  }

  /** Sets a DID's value (a host index, NO_PDS or REFUSED), journaling it when it changed. */
  setDid(key: DidKey, value: number): void {
    if (this.table.set(key, value) === value) return
    this.#reserve(DID_RECORD_BYTES)
    const at = this.#pendingBytes
    for (let w = 0; w < 4; w++) this.#pendingView.setUint32(at + w * 4, key[w]!, true)
    this.#pendingView.setUint32(at + 16, value, true)
    this.#pendingBytes += DID_RECORD_BYTES
  }

  /** Appends the buffered changes (fsync'd), then replaces the JSON atomically. */
  async checkpoint(): Promise<void> {
    if (this.#pendingBytes > 0) {
      await this.#journal.write(this.#pending, 0, this.#pendingBytes, this.#journalBytes)
      await this.#journal.datasync()
      this.#journalBytes += this.#pendingBytes
      this.#pendingBytes = 0
    }
    const file: StateFile = {
      format: FORMAT,
      plcUrl: this.#plcUrl,
      after: this.after,
      boundary: this.boundary,
      journalBytes: this.#journalBytes,
      complete: this.complete,
      ...this.counters,
    }
    await writeFileAtomic(this.#path, `${JSON.stringify(file, null, 2)}\n`)
  }

  /** Closes the journal and releases the lock (without a checkpoint). */
  async close(): Promise<void> {
    await this.#journal.close()
    await this.#release()
  }

  #reserve(bytes: number): void {
    const need = this.#pendingBytes + bytes
    if (need <= this.#pending.length) return
    const bigger = new Uint8Array(Math.max(need, this.#pending.length * 2))
    bigger.set(this.#pending.subarray(0, this.#pendingBytes))
    this.#pending = bigger
    this.#pendingView = new DataView(bigger.buffer)
  }

  async #replay(journalPath: string): Promise<void> {
    const corrupt = (why: string) =>
      new PlcHostsStateError('corrupt', journalPath, `${journalPath}: ${why}`)
    const end = this.#journalBytes
    const { size } = await this.#journal.stat()
    if (size < end) throw corrupt(`${size} bytes, but the state refers to ${end}`)
    const buf = Buffer.alloc(READ_CHUNK + 1024)
    const key = newDidKey()
    let filled = 0 // bytes in buf not yet parsed, starting at 0
    let offset = 0 // file position of buf[0]
    while (offset < end) {
      const want = Math.min(buf.length - filled, end - offset - filled)
      const { bytesRead } = await this.#journal.read(buf, filled, want, offset + filled)
      if (bytesRead === 0 && want > 0) throw corrupt('ends early')
      filled += bytesRead
      let pos = 0
      while (pos + 4 <= filled) {
        const head = buf.readUInt32LE(pos)
        if ((head & HOST_FLAG) !== 0) {
          const len = head & 0xffff
          const total = 4 + Math.ceil(len / 4) * 4
          if (pos + total > filled) break
          const name = buf.toString('latin1', pos + 4, pos + 4 + len)
          this.#hostIndex.set(name, this.hosts.length)
          this.hosts.push(name)
          pos += total
        } else {
          if (pos + DID_RECORD_BYTES > filled) break
          for (let w = 0; w < 4; w++) key[w] = buf.readUInt32LE(pos + w * 4)
          const value = buf.readUInt32LE(pos + 16)
          if (value >= this.hosts.length && value !== NO_PDS && value !== REFUSED) {
            throw corrupt(`a DID refers to host ${value} of ${this.hosts.length}`)
          }
          this.table.set(key, value)
          pos += DID_RECORD_BYTES
        }
      }
      if (offset + pos === end) break
      if (offset + filled === end) throw corrupt('the last record is cut short')
      buf.copy(buf, 0, pos, filled)
      offset += pos
      filled -= pos
    }
  }
}

export function journalPathFor(statePath: string): string {
  return statePath.endsWith('.json') ? `${statePath.slice(0, -5)}.journal` : `${statePath}.journal`
}

async function readStateFile(path: string, plcUrl: string): Promise<StateFile> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    const fresh: StateFile = {
      format: FORMAT,
      plcUrl,
      after: null,
      boundary: [],
      journalBytes: 0,
      complete: false,
      operations: 0,
      malformed: 0,
      tieSkips: 0,
    }
    return fresh
  }
  let v: Partial<StateFile>
  try {
    v = JSON.parse(text) as Partial<StateFile>
  } catch (err) {
    throw new PlcHostsStateError('corrupt', path, `${path} is not JSON`, err)
  }
  const count = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
  const ok =
    typeof v === 'object' &&
    v !== null &&
    v.format === FORMAT &&
    typeof v.plcUrl === 'string' &&
    (v.after === null || typeof v.after === 'string') &&
    Array.isArray(v.boundary) &&
    v.boundary.every((c) => typeof c === 'string') &&
    typeof v.complete === 'boolean' &&
    count(v.journalBytes) &&
    count(v.operations) &&
    count(v.malformed) &&
    count(v.tieSkips)
  if (!ok) throw new PlcHostsStateError('corrupt', path, `${path} is not a ${FORMAT} state file`)
  const file = v as StateFile
  if (file.plcUrl !== plcUrl) {
    throw new PlcHostsStateError(
      'plc-mismatch',
      path,
      `${path} was made from ${file.plcUrl}, not ${plcUrl}: use another --state or delete it`,
    )
  }
  return file
}
