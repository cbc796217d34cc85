export { RowcastClient, type RowcastClientOptions } from './client.js';
export type { ConsumeOptions, Consumer, MessageHandler } from './consumer.js';
export { RowcastError, RowcastHttpError } from './errors.js';
export { NotificationsReader } from './notifications-reader.js';
export * from './protocol.js';
export type { NotificationHandler, SubscribeOptions, Subscription, SubscriptionStatus } from './subscription.js';
