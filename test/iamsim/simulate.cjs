// simulate.cjs: reads a JSON list of simulations (iam-simulate's Simulation:
// request, identityPolicies, resourcePolicy, ...) on stdin and writes, for
// each, {"result": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" |
// "Error", "errors": ...} as one JSON list on stdout. A request context key
// the simulator ignores is an error (a misspelt key would otherwise be
// dropped in silence), but for one known gap: iam-simulate 0.1.173 matches a
// variable condition key by its "/" only (aws:PrincipalTag/K), so it drops
// kms:EncryptionContext:K; a simulation with such a key, once validated by
// runSimulation, is evaluated by its runUnsafeSimulation, which takes the
// context as given, and says so ("unvalidatedKeys"). iam-simulate is found
// through NODE_PATH (the cache dir scripts/tools.sh installs it into); it is
// AGPL-3.0 and runs here, in its own process, never linked into the uploader.
'use strict'
const { runSimulation, runUnsafeSimulation } = require('@cloud-copilot/iam-simulate')
const { createValidatedPolicy } = require('@cloud-copilot/iam-policy')

const encryptionContext = /^kms:encryptioncontext:/i

async function main() {
  let input = ''
  for await (const chunk of process.stdin) input += chunk
  const out = []
  for (const sim of JSON.parse(input)) {
    const sc = { serviceControlPolicies: [], resourceControlPolicies: [], identityPolicies: [], ...sim }
    const r = await runSimulation(sc, {})
    if (r.resultType === 'error') {
      out.push({ result: 'Error', errors: r.errors })
      continue
    }
    const ignored = r.resultType === 'single' ? r.result.ignoredContextKeys || [] : r.results.flatMap((x) => x.ignoredContextKeys || [])
    const unknown = ignored.filter((k) => !encryptionContext.test(k))
    if (unknown.length > 0) {
      out.push({ result: 'Error', errors: { ignoredContextKeys: unknown } })
    } else if (ignored.length > 0) {
      // runSimulation validated the policies; runUnsafeSimulation needs the
      // resource policy named, as runSimulation names it.
      const unsafe = { ...sc }
      if (sc.resourcePolicy) unsafe.resourcePolicy = createValidatedPolicy(sc.resourcePolicy, () => [], { name: 'ResourcePolicy' })
      out.push({ result: runUnsafeSimulation(unsafe, {}), unvalidatedKeys: ignored })
    } else {
      out.push({ result: r.overallResult })
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}
main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n')
  process.exit(1)
})
