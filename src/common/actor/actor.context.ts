import { AsyncLocalStorage } from 'node:async_hooks';

const storage = new AsyncLocalStorage<{ actor: string | undefined }>();

/** Who is making the current request, for the audit trail; set per request by actorMiddleware. */
export const ActorContext = {
  run<T>(actor: string | undefined, work: () => T): T {
    return storage.run({ actor }, work);
  },
  current(): string | undefined {
    return storage.getStore()?.actor;
  },
};
