import { AsyncLocalStorage } from 'node:async_hooks';

const storage = new AsyncLocalStorage<{ actor: string | undefined }>();

/**
 * Who is making the current request, for the audit trail: X-Actor (actorMiddleware) while the
 * service is open, the API key's name (ApiKeyGuard) once keys exist.
 */
export const ActorContext = {
  run<T>(actor: string | undefined, work: () => T): T {
    return storage.run({ actor }, work);
  },
  set(actor: string): void {
    const store = storage.getStore();
    if (store) store.actor = actor;
  },
  current(): string | undefined {
    return storage.getStore()?.actor;
  },
};
