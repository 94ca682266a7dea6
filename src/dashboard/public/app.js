// The dashboard shell: the login screen (the key is checked against the admin API before it is
// kept), hash routing between pages, a status line for results and errors, and each page's
// lifetime (an AbortSignal that stops its refresh timers and requests when it is left).
import { ApiError, api, storedKey, storeKey } from './api.js'
import { renderAccount } from './page-account.js'
import { renderArchive } from './page-archive.js'
import { renderBans } from './page-bans.js'
import { renderConsumers } from './page-consumers.js'
import { renderHosts } from './page-hosts.js'
import { renderOverview } from './page-overview.js'
import { renderPulls } from './page-pulls.js'
import { renderSettings } from './page-settings.js'
import { renderTakedowns } from './page-takedowns.js'

const PAGES = {
  overview: renderOverview,
  hosts: renderHosts,
  consumers: renderConsumers,
  bans: renderBans,
  takedowns: renderTakedowns,
  settings: renderSettings,
  account: renderAccount,
  pulls: renderPulls,
  archive: renderArchive,
}

const $ = (id) => document.getElementById(id)
let current = null

function flash(message, kind = 'good') {
  const el = $('flash')
  el.textContent = message
  el.className = kind
}

/** Runs an action, reporting success or the API's error in the status line. */
async function act(label, fn) {
  try {
    const out = await fn()
    flash(`${label}: done`)
    return out
  } catch (err) {
    failed(err, label)
    return undefined
  }
}

function failed(err, label) {
  if (err?.name === 'AbortError') return
  if (err instanceof ApiError && err.status === 401)
    return logout('Your session ended: log in again.')
  flash(`${label ? `${label}: ` : ''}${err instanceof Error ? err.message : String(err)}`, 'bad')
}

function showLogin(message = '') {
  current?.abort()
  current = null
  $('shell').hidden = true
  $('login').hidden = false
  $('login-error').textContent = message
  $('login-key').focus()
}

function logout(message) {
  storeKey(null)
  showLogin(message)
}

function route() {
  if (!storedKey()) return showLogin()
  $('login').hidden = true
  $('shell').hidden = false
  // #/<page>[/<argument>]: the argument (a DID for the account page) makes a view linkable.
  const [asked = '', ...rest] = location.hash.replace(/^#\//, '').split('/')
  const name = PAGES[asked] ? asked : 'overview'
  let arg = rest.join('/')
  try {
    arg = decodeURIComponent(arg)
  } catch {
    // a hand-typed address with a stray %: use it as typed
  }
  const render = PAGES[name]
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', a.dataset.page === name)
  }
  current?.abort()
  current = new AbortController()
  const root = $('page')
  root.replaceChildren()
  flash('')
  Promise.resolve(render({ root, arg, signal: current.signal, api, act, failed, flash })).catch(
    (err) => failed(err),
  )
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  const key = $('login-key').value
  $('login-error').textContent = ''
  try {
    await api('GET', '/admin/subs/getEnabled', { key })
    storeKey(key)
    $('login-key').value = ''
    route()
  } catch (err) {
    $('login-error').textContent =
      err instanceof ApiError && err.status === 401
        ? 'Wrong admin key.'
        : `Cannot reach the admin API: ${err.message}`
  }
})
$('logout').addEventListener('click', () => logout(''))
window.addEventListener('hashchange', route)
route()
