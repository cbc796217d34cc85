/**
 * Callbacks told of something as it happens (metrics, mostly). One that throws is reported to
 * `failed` and the others still run: what tells them goes on whatever they do.
 */
export class Listeners<A extends unknown[]> {
  private readonly listeners = new Set<(...args: A) => void>();

  constructor(private readonly failed: (error: unknown) => void = () => {}) {}

  /** Adds `listener`; returns its removal. */
  add(listener: (...args: A) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  tell(...args: A): void {
    for (const listener of this.listeners) {
      try {
        listener(...args);
      } catch (error) {
        this.failed(error);
      }
    }
  }
}
