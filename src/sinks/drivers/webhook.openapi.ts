import { getSchemaPath, type OpenAPIObject } from '@nestjs/swagger';
import { NotificationDto, TruncatedNotificationDto } from '../../notifications/dto/notification.dto.js';

/** The schemas the outgoing request names, which no route of the API returns as such. */
export const WEBHOOK_MODELS = [NotificationDto, TruncatedNotificationDto];

const header = (name: string, description: string, schema: object) => ({ name, in: 'header' as const, required: true, description, schema });

/**
 * The request a webhook receiver gets, as OpenAPI 3.1 `webhooks` (what webhook.transport.ts sends), so
 * that a receiver's types can be generated (openapi-typescript) and its signature check written from it.
 */
export function outgoingWebhooks(): NonNullable<OpenAPIObject['webhooks']> {
  return {
    notification: {
      post: {
        summary: 'One notification, POSTed to a webhook\'s url',
        description:
          'Sent one at a time, in notification id order, to each webhook whose filter matches, signed the ' +
          '[Standard Webhooks](https://www.standardwebhooks.com) way (the `standardwebhooks` packages verify it). ' +
          'A retry carries the same `webhook-id`: drop what you already have. Redirects are not followed.',
        operationId: 'receiveNotification',
        tags: ['webhooks'],
        security: [],
        parameters: [
          header('webhook-id', 'The notification id: the same on every retry (deduplicate on it)', { type: 'string', pattern: '^[0-9]+$', example: '1042' }),
          header('webhook-timestamp', 'When this attempt was sent, in seconds since the Unix epoch (refuse old ones to stop replays)', { type: 'string', pattern: '^[0-9]+$', example: '1767225600' }),
          header(
            'webhook-signature',
            '`v1,` and the base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` keyed with the secret\'s bytes (after `whsec_`); ' +
              'while a rotated secret overlaps, one per secret, space-separated: accept the request if any verifies',
            { type: 'string', pattern: '^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$' },
          ),
          header('user-agent', 'Always `rowcast-webhooks`', { type: 'string', example: 'rowcast-webhooks' }),
        ],
        requestBody: {
          required: true,
          description: 'The notification; a truncated one (`truncated: true`, no rows, `href` to fetch it whole) after the receiver answered 413 to it',
          content: {
            'application/json': {
              // anyOf, not oneOf: only their required fields tell them apart, which Redocly's check cannot see.
              schema: { anyOf: [{ $ref: getSchemaPath(NotificationDto) }, { $ref: getSchemaPath(TruncatedNotificationDto) }] },
            },
          },
        },
        responses: {
          '2XX': { description: 'Delivered: the webhook goes on to the next notification (the start of the response body is kept in its deliveries list)' },
          '413': { description: 'Too large for the receiver: the same notification is sent again truncated, and that counts as delivered' },
          default: {
            description:
              'Any other status, a timeout (WEBHOOK_TIMEOUT_MS) or a connection failure: the same notification is retried after ' +
              'each wait of WEBHOOK_RETRY_SCHEDULE, then dead-lettered or the webhook paused (its `onExhausted`); nothing after it is sent meanwhile',
          },
        },
      },
    },
  };
}
