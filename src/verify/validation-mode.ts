// How sync 1.1 proofs are enforced: `strict` drops a commit whose ops do not invert to its
// `prevData` (or that lacks it), `lenient` passes it with a counted warning. And the setting
// that picks the mode for a host: one of those, or `auto`, which ratchets each host from lenient
// to strict (hosts/sync-ratchet.ts). A vocabulary file: it imports nothing, so every layer above
// it (config, the database schema, hosts) names the modes from here.
export const VALIDATION_MODES = ['strict', 'lenient'] as const
export type ValidationMode = (typeof VALIDATION_MODES)[number]

/** A host's (or the relay's default) sync 1.1 setting: `auto` ratchets lenient → strict. */
export const SYNC_MODES = ['auto', ...VALIDATION_MODES] as const
export type SyncMode = (typeof SYNC_MODES)[number]
