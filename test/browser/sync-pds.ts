// A PDS on loopback for the dashboard's archive tests: the fake PDS (describeServer,
// subscribeRepos with the frames given) that also answers what resyncs and repairs ask of a PDS,
// from TestRepos: `listRepos` (one page: every repo it holds, with its head), `getRepo` (the
// repo's CAR), `getLatestCommit` and `getRepoStatus`. `getRepoFails` makes getRepo answer 500 (a
// repair that fails and is tried again later).
import type { ServerResponse } from 'node:http'
import { FakePds } from '../support/fake-pds.ts'
import type { TestRepo } from '../support/test-repo.ts'

export class SyncPds {
  /** The repos it hosts, by DID (listRepos lists those with a commit). */
  readonly repos = new Map<string, TestRepo>()
  getRepoFails = false
  #pds: FakePds | undefined

  static async start(): Promise<SyncPds> {
    const sync = new SyncPds()
    sync.#pds = await FakePds.start((url, res) => sync.#answer(url, res))
    return sync
  }

  get #fake(): FakePds {
    if (!this.#pds) throw new Error('SyncPds used before start()')
    return this.#pds
  }

  get hostname(): string {
    return this.#fake.hostname
  }

  get url(): string {
    return this.#fake.url
  }

  get subscriberCount(): number {
    return this.#fake.subscriberCount
  }

  emit(seq: number, frame: Uint8Array): void {
    this.#fake.emit(seq, frame)
  }

  close(): Promise<void> {
    return this.#fake.close()
  }

  #answer(url: URL, res: ServerResponse): boolean {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
      return true
    }
    const repo = this.repos.get(url.searchParams.get('did') ?? '')
    switch (url.pathname) {
      case '/xrpc/com.atproto.sync.getRepoStatus':
        return repo
          ? json(200, { did: repo.did, active: true, rev: repo.rev })
          : json(400, { error: 'RepoNotFound' })
      case '/xrpc/com.atproto.sync.listRepos':
        // One page: a cursor asks for the page after it, which is empty.
        return json(200, {
          repos: url.searchParams.has('cursor')
            ? []
            : [...this.repos.values()]
                .filter((r) => r.commitCid !== null)
                .map((r) => ({ did: r.did, head: r.commitCid, rev: r.rev, active: true })),
        })
      case '/xrpc/com.atproto.sync.getLatestCommit':
        return repo?.commitCid
          ? json(200, { cid: repo.commitCid, rev: repo.rev })
          : json(400, { error: 'RepoNotFound' })
      case '/xrpc/com.atproto.sync.getRepo':
        if (!repo?.commitCid) return json(400, { error: 'RepoNotFound' })
        if (this.getRepoFails) return json(500, { error: 'InternalServerError' })
        void repo.exportCar().then((car) => {
          res.writeHead(200, { 'content-type': 'application/vnd.ipld.car' })
          res.end(car)
        })
        return true
      default:
        return false
    }
  }
}
