// The one failure of a verification that is not the event's fault: the thread that ran it (a
// verify worker, or the account shard it was lent to) died, or could not answer, or the
// verification threw (in a worker, or on the main thread: ingest/event-verification.ts). Callers
// retry such a task once, on the same frame, which no verification detaches (ingest/handlers.ts).

export class VerifyWorkerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'VerifyWorkerError'
  }
}
