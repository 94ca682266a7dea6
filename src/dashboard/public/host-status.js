// The hosts page's status cell: the status word (its reason from the status machine as the
// tooltip), and under it what an operator needs when a host is not healthy: when an offline
// host is tried next, how many connection attempts failed in a row, and the last connection
// error with its time (fields of GET /admin/pds/list, src/admin/host-admin.ts hostRecord).
import { fmtRelative, fmtTime, h } from './dom.js'

function retryLine(r) {
  if (r.Status !== 'offline' || r.Blocked) return null
  const at = r.NextRetryAt ? new Date(r.NextRetryAt).getTime() : Number.NaN
  const next = Number.isNaN(at)
    ? 'no retry scheduled'
    : at <= Date.now()
      ? 'retrying now'
      : `retry ${fmtRelative(at)}`
  const failures = r.ConsecutiveFailures > 0 ? ` · ${r.ConsecutiveFailures} failed in a row` : ''
  return h(
    'div.sub',
    { dataset: { field: 'next-retry' }, title: r.NextRetryAt ? fmtTime(r.NextRetryAt) : undefined },
    `${next}${failures}`,
  )
}

// A healthy host's old error is history, not news: shown only while something is wrong.
function errorLine(r) {
  const e = r.LastConnectionError
  if (!e || (r.Status === 'active' && !(r.ConsecutiveFailures > 0))) return null
  return h(
    'div.sub.error',
    { dataset: { field: 'last-error' }, title: e.at ? fmtTime(e.at) : undefined },
    `last error${e.at ? ` ${fmtRelative(e.at)}` : ''}: ${e.message}`,
  )
}

export function statusCell(r) {
  const status = r.Blocked ? 'blocked' : r.Status
  const retry = retryLine(r)
  const error = errorLine(r)
  // Without an error line the reason (e.g. why idle or throttled) is worth showing in full.
  const reason =
    !error && r.Status !== 'active' && r.StatusReason
      ? h('div.sub.muted', { dataset: { field: 'status-reason' } }, r.StatusReason)
      : null
  return h(
    `td.status-${r.Blocked ? 'banned' : r.Status}`,
    { title: r.StatusReason ?? undefined },
    h('span', { dataset: { field: 'status' } }, status),
    retry,
    error,
    reason,
  )
}
