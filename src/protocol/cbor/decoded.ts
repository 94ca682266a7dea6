// What DAG-CBOR decodes bytes and links to. @atcute/cbor's `isBytes` and `isCidLink` also accept
// the JSON spellings (`{"$bytes": "…"}`, `{"$link": "…"}`). In a value decoded from CBOR those
// are plain maps, so a field the schema types as bytes or a link that holds one is wrong. Taking
// the map for bytes left the field undefined and made verification throw; taking it for a link
// would relay a map where consumers expect a link. Only for values decoded from CBOR. The classes
// come from @atcute/cbor itself, the package whose decoder builds them.
import { BytesWrapper, type CidLink, CidLinkWrapper } from '@atcute/cbor'

/** A byte string as DAG-CBOR decodes one. */
export function isDecodedBytes(value: unknown): value is BytesWrapper {
  return value instanceof BytesWrapper
}

/** A link as DAG-CBOR decodes one (tag 42). */
export function isDecodedCidLink(value: unknown): value is CidLink {
  return value instanceof CidLinkWrapper
}
