// A stored did:plc identity (stored-identities.ts) is what one PLC directory answered. When the
// relay starts with another directory (`--plc-host` changed: a mirror, a staging directory),
// those rows are not answers of the directory it now trusts, and the cache would use them until
// they aged out (a day). So at start, before anything reads the table, the did:plc rows of
// another directory are deleted and those accounts are resolved again from the new one. did:web
// identities do not come from the directory and stay.
// The directory the rows came from is kept in `meta` under DIRECTORY_KEY. A database from before
// that key has rows of an unknown directory: they are kept (a directory change in the same start
// as the upgrade is unlikely, and deleting them would cost every account a lookup), and the key
// is written.
// Deliberately not here: when a stored identity may be used (the cache's times), SQL.

/** The `meta` key holding the URL of the directory the stored did:plc identities came from. */
export const DIRECTORY_KEY = 'identity_plc_url'

export interface DirectoryChangeStores {
  readonly meta: {
    get(key: string): Promise<string | undefined>
    set(key: string, value: string): Promise<void>
  }
  readonly identities: { deleteMethod(method: string): Promise<number> }
}

/** What a start found: the directory changed from `previous`, and `deleted` rows went with it. */
export interface DirectoryChange {
  readonly previous: string
  readonly deleted: number
}

/**
 * Deletes the stored did:plc identities when they came from a directory other than `plcUrl`, and
 * records `plcUrl` as theirs; undefined when nothing was deleted. The rows go before the key is
 * written, so a start that fails between the two deletes them again on the next.
 */
export async function forgetOtherDirectory(
  stores: DirectoryChangeStores,
  plcUrl: string,
): Promise<DirectoryChange | undefined> {
  const previous = await stores.meta.get(DIRECTORY_KEY)
  if (previous === plcUrl) return undefined
  const deleted = previous === undefined ? 0 : await stores.identities.deleteMethod('plc')
  await stores.meta.set(DIRECTORY_KEY, plcUrl)
  return previous === undefined ? undefined : { previous, deleted }
}
