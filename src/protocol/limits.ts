// Size limits on upstream events (docs/design.md §4 item 10, and the subscribeRepos Lexicon).
// These are protocol facts, checked by verify/ and upstream/; they are not tunables.

/** Largest event-stream frame (header + body) accepted from a PDS; a larger one ends the connection. */
export const MAX_FRAME_BYTES = 5_000_000

/** Largest `blocks` CAR slice of a `#commit` (Lexicon `maxLength`). */
export const MAX_COMMIT_BLOCKS_BYTES = 2_000_000

/** Most ops in one `#commit` (Lexicon `maxLength`). */
export const MAX_COMMIT_OPS = 200

/** Largest `blocks` CAR slice of a `#sync` (Lexicon `maxLength`). */
export const MAX_SYNC_BLOCKS_BYTES = 10_000

/** Largest single record block. */
export const MAX_RECORD_BYTES = 1_000_000

/** A commit's rev may be at most this far ahead of the relay's clock. */
export const MAX_FUTURE_REV_MS = 5 * 60 * 1000

/** Longest MST key (repo path) allowed by the repository spec. */
export const MAX_REPO_PATH_LENGTH = 1024
