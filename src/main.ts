// Command-line entry point (`relay ...`, `npm start` runs `relay serve`).
// The relay service (crawling, ingest, event log, firehose) is built in the next stage; for now
// the CLI reports the verification backends this machine will use, so an operator can check an
// install, and says plainly that `serve` is not available yet.
import { k256Backend, nativeK256Error } from './verify/crypto/signature.ts'

const [command = 'help'] = process.argv.slice(2)

function printHelp(): void {
  console.log(`relay: an atproto relay

Usage:
  relay check     report the signature backends this install will use
  relay help      this text

The relay service itself (relay serve) is not built yet; see README.md.`)
}

switch (command) {
  case 'check': {
    console.log(`node ${process.version}`)
    console.log(
      `k256 signatures: ${k256Backend}${nativeK256Error ? ` (libsecp256k1 unavailable: ${nativeK256Error.message})` : ''}`,
    )
    console.log('p256 signatures: node-crypto')
    break
  }
  case 'serve':
    console.error('relay serve: the relay service is not built yet (see README.md, "Status").')
    process.exitCode = 1
    break
  case 'help':
  case '--help':
  case '-h':
    printHelp()
    break
  default:
    console.error(`relay: unknown command "${command}"`)
    printHelp()
    process.exitCode = 2
}
