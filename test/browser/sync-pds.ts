// A PDS on loopback for the dashboard's archive tests: besides what test/support/fake-pds.ts
// serves (describeServer for requestCrawl's probe, getRepoStatus, subscribeRepos with the frames
// given) it answers what resyncs and repairs ask of a PDS: `listRepos` (one page: every repo it
// holds, with its head), `getRepo` (the repo's CAR) and `getLatestCommit`, from TestRepos.
// `getRepoFails` makes getRepo answer 500 (a repair that fails and is tried again later).
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type WebSocket, WebSocketServer } from 'ws'
import type { TestRepo } from '../support/test-repo.ts'

export class SyncPds {
  readonly #server: Server
  readonly #wss = new WebSocketServer({ noServer: true })
  readonly #frames: { seq: number; frame: Uint8Array }[] = []
  readonly #subscribers = new Set<WebSocket>()
  /** The repos it hosts, by DID (listRepos lists those with a commit). */
  readonly repos = new Map<string, TestRepo>()
  getRepoFails = false

  private constructor(server: Server) {
    this.#server = server
  }

  static async start(): Promise<SyncPds> {
    const server = createServer()
    const pds = new SyncPds(server)
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      const repo = pds.repos.get(url.searchParams.get('did') ?? '')
      switch (url.pathname) {
        case '/xrpc/com.atproto.server.describeServer':
          return json(200, { did: 'did:web:localhost', availableUserDomains: ['.test'] })
        case '/xrpc/com.atproto.sync.getRepoStatus':
          return repo
            ? json(200, { did: repo.did, active: true, rev: repo.rev })
            : json(400, { error: 'RepoNotFound' })
        case '/xrpc/com.atproto.sync.listRepos':
          // One page: a cursor asks for the page after it, which is empty.
          return json(200, {
            repos: url.searchParams.has('cursor')
              ? []
              : [...pds.repos.values()]
                  .filter((r) => r.commitCid !== null)
                  .map((r) => ({ did: r.did, head: r.commitCid, rev: r.rev, active: true })),
          })
        case '/xrpc/com.atproto.sync.getLatestCommit':
          return repo?.commitCid
            ? json(200, { cid: repo.commitCid, rev: repo.rev })
            : json(400, { error: 'RepoNotFound' })
        case '/xrpc/com.atproto.sync.getRepo':
          if (!repo?.commitCid) return json(400, { error: 'RepoNotFound' })
          if (pds.getRepoFails) return json(500, { error: 'InternalServerError' })
          return repo.exportCar().then((car) => {
            res.writeHead(200, { 'content-type': 'application/vnd.ipld.car' })
            res.end(car)
          })
        default:
          res.writeHead(404).end()
      }
    })
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname !== '/xrpc/com.atproto.sync.subscribeRepos') return socket.destroy()
      const cursor = url.searchParams.get('cursor')
      pds.#wss.handleUpgrade(req, socket, head, (ws) => {
        const from = cursor === null ? Number.POSITIVE_INFINITY : Number(cursor)
        for (const f of pds.#frames) if (f.seq > from) ws.send(f.frame)
        pds.#subscribers.add(ws)
        ws.on('close', () => pds.#subscribers.delete(ws))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve))
    return pds
  }

  /** `localhost:PORT`: the hostname the relay crawls. */
  get hostname(): string {
    return `localhost:${(this.#server.address() as AddressInfo).port}`
  }

  get url(): string {
    return `http://${this.hostname}`
  }

  get subscriberCount(): number {
    return this.#subscribers.size
  }

  /** Stores a frame and sends it to every current subscriber. */
  emit(seq: number, frame: Uint8Array): void {
    this.#frames.push({ seq, frame })
    for (const ws of this.#subscribers) ws.send(frame)
  }

  async close(): Promise<void> {
    for (const ws of this.#subscribers) ws.terminate()
    this.#wss.close()
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
