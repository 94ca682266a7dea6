// How sync 1.1 proofs are enforced: `strict` drops a commit whose ops do not invert to its
// `prevData` (or that lacks it), `lenient` passes it with a counted warning. A vocabulary file:
// it imports nothing, so every layer (config, the database schema) may name it.
export const VALIDATION_MODES = ['strict', 'lenient'] as const
export type ValidationMode = (typeof VALIDATION_MODES)[number]
