// How the account page shows the relay's answers about one DID (GET /admin/repo/status and
// POST /admin/repo/refresh, src/admin/repo-admin.ts): a verdict first ("flowing" or why not),
// then labelled facts and the recent drops grouped by reason. Nulls in those answers mean
// "none yet" or "not known", and are said so in words. A desynchronized account (its events
// flow, but the relay's copy of its repo is behind until a repair) is said so in the verdict.
import { facts, h, simpleTable, when, yesNo } from './dom.js'

/** The API's `why` (an inactive reason) in an operator's words. */
const WHY = {
  'account-takendown': 'taken down on this relay',
  'account-throttled': 'throttled: its host is over its account limit',
  'account-inactive': 'not active at its PDS',
}

function verdict(a) {
  if (a.flowing && a.localStatus === 'desynchronized')
    return h(
      'p.verdict.warn',
      {},
      'Flowing, but desynchronized: this relay’s copy of the repo is behind its PDS until a repair fetches it (queued; “Resync account” does it now).',
    )
  if (a.flowing)
    return h('p.verdict.good', {}, 'Flowing: this relay passes the account’s events on.')
  const why = WHY[a.why] ?? a.why ?? 'unknown reason'
  const status = a.why === 'account-inactive' && a.status ? ` (${a.status})` : ''
  return h('p.verdict.bad', {}, `Not flowing: ${why}${status}.`)
}

/** Who the DID document says the account is: PDS, handle, signing key. */
function identityRows(identity, fallbackHandle) {
  if (!identity)
    return [
      ['Handle', fallbackHandle ?? 'not known', 'handle'],
      ['PDS', 'not resolved yet: use “Refresh from its PDS”', 'pds'],
    ]
  return [
    ['Handle', identity.handle ?? fallbackHandle ?? 'none in its DID document', 'handle'],
    ['PDS', identity.pds ?? 'none in its DID document', 'pds'],
    ['Signing key', identity.hasKey ? 'in its DID document' : 'missing', 'signing-key'],
  ]
}

/** Drops of one DID (one entry per dropped event, newest first or not) grouped by reason. */
function dropsTable(drops) {
  const byReason = new Map()
  for (const d of drops) {
    const g = byReason.get(d.reason) ?? { reason: d.reason, count: 0, at: '', hosts: new Set() }
    g.count++
    if (d.host) g.hosts.add(d.host)
    if (d.at >= g.at) {
      g.at = d.at
      g.detail = d.detail
    }
    byReason.set(d.reason, g)
  }
  const groups = [...byReason.values()].sort((a, b) => b.at.localeCompare(a.at))
  return simpleTable(
    'table#account-drops',
    ['Reason', 'Events', 'Last seen', 'From host', 'Last detail'],
    groups.map((g) => [
      g.reason,
      String(g.count),
      when(g.at),
      [...g.hosts].join(', ') || '–',
      g.detail || '–',
    ]),
    'No recent drops.',
  )
}

/** `active`, `active (desynchronized)`, or the inactive status. */
function statusText(a) {
  if (!a.active) return a.status ?? 'inactive'
  return a.status ? `active (${a.status})` : 'active'
}

/** The account as the relay sees it (the answer of GET /admin/repo/status). */
export function accountView(a) {
  const none = 'none yet (no commit accepted)'
  return [
    h(
      'div.card',
      { dataset: { account: a.did } },
      h('h2', {}, a.did),
      verdict(a),
      facts([
        ...identityRows(a.identity, a.handle),
        ['Host', a.host ?? 'unknown host', 'host'],
        ['Status', statusText(a), 'status'],
        [
          'Local status (this relay)',
          a.localStatus === 'desynchronized' ? h('span.warn', {}, a.localStatus) : a.localStatus,
          'local-status',
        ],
        ['Upstream status (its PDS)', a.upstreamStatus, 'upstream-status'],
        ['Throttled', yesNo(a.throttled), 'throttled'],
        ['Taken down', yesNo(a.takendown), 'takendown'],
        ['Rev', a.rev ?? none, 'rev'],
        ['Head commit', a.commit ? h('code', {}, a.commit) : none, 'commit'],
        ['Data (MST root)', a.data ? h('code', {}, a.data) : none, 'data'],
        ['First seen', when(a.createdAt), 'created'],
        ['Last change', when(a.updatedAt), 'updated'],
      ]),
    ),
    h('div.card', {}, h('h2', {}, 'Recent drops'), dropsTable(a.recentDrops ?? [])),
  ]
}

/** What a refresh found (the answer of POST /admin/repo/refresh), then the account itself. */
export function refreshView(r) {
  const pds = r.pdsStatus
  const said = pds
    ? pds.active
      ? 'active'
      : `not active (${pds.status ?? 'no status given'})`
    : r.identity?.pds
      ? 'no answer'
      : 'not asked: no PDS in its DID document'
  return [
    h(
      'div#account-refresh.card',
      {},
      h('h2', {}, 'Just checked'),
      facts([
        ['DID document', r.identity ? 'resolved' : 'could not be resolved', 'resolved'],
        ...(r.identity ? identityRows(r.identity, null) : []),
        ['Its PDS says', said, 'pds-status'],
      ]),
    ),
    ...(r.account
      ? accountView(r.account)
      : [h('div.card', {}, h('p.muted', {}, 'This relay has no account for this DID yet.'))]),
  ]
}

/** The answer for a DID this relay has no account of (404 RepoNotFound: its message says why). */
export function notFoundView(did, message) {
  return h(
    'div#account-missing.card',
    {},
    h('h2', {}, did),
    h('p.verdict.bad', {}, 'Not on this relay.'),
    h('p', {}, message),
  )
}
