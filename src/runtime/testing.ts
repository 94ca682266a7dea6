// Test support for the process-wide V8 settings the relay makes at start: they can only be seen
// in a process of their own, started with the options an operator might give Node.
// Deliberately not used by production code.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/**
 * What `fn` of the module at `path` returns in a fresh Node started with `flags` and, when given,
 * NODE_OPTIONS (these settings are numbers). Throws if that Node wrote anything to stderr: V8
 * names an option it does not know there and goes on.
 */
export async function inFreshNode(
  path: string,
  fn: string,
  flags: readonly string[],
  nodeOptions = '',
): Promise<number> {
  const { stdout, stderr } = await run(
    process.execPath,
    [
      ...flags,
      '--input-type=module',
      '-e',
      `import(${JSON.stringify(path)}).then((m) => console.log(m.${fn}()))`,
    ],
    { env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: nodeOptions } },
  )
  if (stderr.trim() !== '') throw new Error(`${fn}: ${stderr.trim()}`)
  return Number(stdout)
}
