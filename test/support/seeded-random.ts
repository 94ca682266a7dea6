// Test and bench support: mulberry32, a small seeded generator of numbers in [0, 1), so that a
// run can be repeated exactly from its seed (kill moments in the crash loop, the load
// generator's workload). Not for anything that needs unpredictability.
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
