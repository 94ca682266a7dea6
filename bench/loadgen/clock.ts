// The load generator's one clock (milliseconds, monotonic, shared by its threads' sends and
// receives so latencies line up) and its pause.

export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
