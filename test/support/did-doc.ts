// DID documents for test accounts, as a mock PLC directory serves them: the atproto signing key
// (Multikey) and the PDS endpoint; a handle when given. Without a key the account can send
// identity and account events, but its commits cannot verify.
export function testDidDocument(
  did: string,
  pdsUrl: string,
  opts: { handle?: string; publicKeyMultibase?: string } = {},
): Record<string, unknown> {
  return {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: did,
    alsoKnownAs: opts.handle ? [`at://${opts.handle}`] : [],
    verificationMethod: opts.publicKeyMultibase
      ? [
          {
            id: `${did}#atproto`,
            type: 'Multikey',
            controller: did,
            publicKeyMultibase: opts.publicKeyMultibase,
          },
        ]
      : [],
    service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: pdsUrl }],
  }
}

/**
 * Publishes each repo's DID document in a (mock) directory: its key, the PDS, the handle. What a
 * test of real commits needs before it sends them.
 */
export function publishRepos(
  plc: { setDocument(did: string, doc: Record<string, unknown>): void },
  repos: readonly { did: string; keypair: { publicKeyMultibase: string } }[],
  pdsUrl: string,
  handle: string | ((did: string) => string) = 'h.test',
): void {
  for (const repo of repos) {
    plc.setDocument(
      repo.did,
      testDidDocument(repo.did, pdsUrl, {
        handle: typeof handle === 'string' ? handle : handle(repo.did),
        publicKeyMultibase: repo.keypair.publicKeyMultibase,
      }),
    )
  }
}
