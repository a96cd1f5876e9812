/**
 * A map whose entries are forgotten at their expiry and which never holds more than `maxEntries`.
 * Entries are expected in roughly the order they expire (one TTL per map), so expired ones are
 * dropped from the front as new ones arrive: no timers, constant work per insert. When full, the
 * oldest entry goes first.
 */
export class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The value, or undefined once it has expired at `now`. */
  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    return entry && entry.expiresAt > now ? entry.value : undefined;
  }

  /** Sets the value; a key already present keeps its place (and so its turn to be forgotten). */
  set(key: string, value: V, expiresAt: number, now: number): void {
    this.forgetExpired(now);
    const existing = this.entries.get(key);
    if (existing && existing.expiresAt > now) {
      existing.value = value;
      existing.expiresAt = expiresAt;
      return;
    }
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expiresAt });
  }

  private forgetExpired(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now) return;
      this.entries.delete(key);
    }
  }
}
