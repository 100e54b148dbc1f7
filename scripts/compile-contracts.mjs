#!/usr/bin/env node
// Compile the simulation contracts (bot/sim/contracts/*.sol) with the npm `solc` package.
// Usage: node scripts/compile-contracts.mjs [sources_dir] [out_file]
// Writes {"compiler": ..., "contracts": {Name: {"abi": [...], "bytecode": "0x..."}}}.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const sourcesDir = path.resolve(process.argv[2] ?? path.join(root, 'bot/sim/contracts'))
const outFile = path.resolve(process.argv[3] ?? path.join(root, 'build/contracts.json'))
// shanghai runs on every anvil hardfork from shanghai on (anvil's default is newer).
const EVM_VERSION = 'shanghai'

let solc
try {
  solc = require('solc')
} catch (err) {
  console.error('cannot load the npm package `solc`; run `npm ci` first')
  process.exit(2)
}

const files = fs.readdirSync(sourcesDir).filter((name) => name.endsWith('.sol')).sort()
if (files.length === 0) {
  console.error(`no .sol files in ${sourcesDir}`)
  process.exit(2)
}

const input = {
  language: 'Solidity',
  sources: Object.fromEntries(
    files.map((name) => [name, { content: fs.readFileSync(path.join(sourcesDir, name), 'utf8') }])
  ),
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: EVM_VERSION,
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } }
  }
}

const output = JSON.parse(solc.compile(JSON.stringify(input)))
const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
for (const e of output.errors ?? []) console.error(e.formattedMessage ?? e.message)
if (errors.length > 0) process.exit(1)

const contracts = {}
for (const [file, byName] of Object.entries(output.contracts ?? {})) {
  for (const [name, artifact] of Object.entries(byName)) {
    if (name in contracts) {
      console.error(`duplicate contract name ${name} (in ${file})`)
      process.exit(1)
    }
    contracts[name] = { source: file, abi: artifact.abi, bytecode: '0x' + artifact.evm.bytecode.object }
  }
}

const result = { compiler: solc.version(), evmVersion: EVM_VERSION, contracts }
fs.mkdirSync(path.dirname(outFile), { recursive: true })
const tmp = `${outFile}.${process.pid}.tmp`
fs.writeFileSync(tmp, JSON.stringify(result, null, 1))
fs.renameSync(tmp, outFile)
console.log(`compiled ${Object.keys(contracts).join(', ')} -> ${path.relative(process.cwd(), outFile)}`)
