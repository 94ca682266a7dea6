/** A repo task for this DID kills dying-repo-verify-worker.ts (kept apart: that file is a worker entry). */
export const DYING_REPO_DID = 'did:plc:diesverifyingthisrepoxxx'
