// Reading a numeric V8 option from Node's own options (its command line and NODE_OPTIONS), for
// the process-wide heap settings the relay makes at start (thread-heap.ts, heap-growth.ts): an
// operator who passed the option keeps the value given.

/**
 * The last `--name=N` (dashes or underscores) with a number N ≥ 0 among `args`, or null. V8
 * reads 0 for these sizes and factors as "your own default", so it is a value given, and the
 * caller decides what it means.
 */
export function nodeFlagNumber(args: readonly string[], name: string): number | null {
  const pattern = new RegExp(`^--${name.replaceAll('-', '[-_]')}=(.*)$`)
  let value: number | null = null
  for (const arg of args) {
    const m = pattern.exec(arg)
    const n = Number(m?.[1])
    if (m && m[1] !== '' && Number.isFinite(n) && n >= 0) value = n
  }
  return value
}

/** Node's options: NODE_OPTIONS first, then the command line (which wins, being later). */
export function nodeOptionArgs(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
): string[] {
  return [...nodeOptions.split(/\s+/), ...execArgv]
}
