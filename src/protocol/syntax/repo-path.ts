// Repo path syntax (https://atproto.com/specs/repository): `<collection NSID>/<record key>`, the
// form of commit op paths and MST keys. Exactly one `/`.
// Deliberately not checked: that the record exists, or that the key type suits the collection.

import { InvalidSyntaxError } from './errors.ts'
import { nsidSpanProblem } from './nsid.ts'
import { recordKeySpanProblem } from './record-key.ts'

export interface RepoPath {
  readonly collection: string
  readonly rkey: string
}

export function isValidRepoPath(s: string): boolean {
  return repoPathProblem(s, s.indexOf('/')) === undefined
}

/** Splits a repo path into collection and record key; throws `InvalidSyntaxError` otherwise. */
export function parseRepoPath(s: string): RepoPath {
  const slash = s.indexOf('/')
  const problem = repoPathProblem(s, slash)
  if (problem !== undefined) throw new InvalidSyntaxError('repo-path', s, problem)
  return { collection: s.slice(0, slash), rkey: s.slice(slash + 1) }
}

function repoPathProblem(s: string, slash: number): string | undefined {
  if (slash === -1) return 'missing "/"'
  if (s.indexOf('/', slash + 1) !== -1) return 'more than one "/"'
  const nsid = nsidSpanProblem(s, 0, slash)
  if (nsid !== undefined) return `collection: ${nsid}`
  const rkey = recordKeySpanProblem(s, slash + 1, s.length)
  if (rkey !== undefined) return `record key: ${rkey}`
  return undefined
}
