// `npm run bench`: runs every `src/**/*.bench.ts` file (or those matching the arguments) in its
// own Node process, one after another, and prints what each reports. Results are recorded by
// hand in BENCHMARKS.md with the machine and date.
import { spawnSync } from 'node:child_process'
import { glob } from 'node:fs/promises'
import { cpus } from 'node:os'

const filters = process.argv.slice(2)
const files: string[] = []
for await (const f of glob('src/**/*.bench.ts')) {
  if (filters.length === 0 || filters.some((x) => f.includes(x))) files.push(f)
}
files.sort()

console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown cpu'}`)
console.log(`date ${new Date().toISOString()}`)
let failed = 0
for (const file of files) {
  console.log(`\n## ${file}`)
  const r = spawnSync(process.execPath, [file], { stdio: 'inherit' })
  if (r.status !== 0) {
    failed++
    console.log(`(${file} exited with ${r.status ?? r.signal})`)
  }
}
if (failed > 0) process.exitCode = 1
