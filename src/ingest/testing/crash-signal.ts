/** A task for this did:key kills crashing-verify-worker.ts (kept apart: that file is a worker entry). */
export const CRASH_DID_KEY = 'did:key:crash-this-worker'
