import { createHmac } from 'node:crypto';
import type { Resource, Subscription } from '@medplum/fhirtypes';
import type { NotificationDoc } from './outbox';
import { parseHeaders, payloadKind, subscriptionSecret, type PayloadKind } from './subscription-rules';

/**
 * The HTTP request of one notification, Medplum's rest-hook format plus an event id:
 *
 * - `POST {channel.endpoint}`;
 * - body: with `channel.payload` `application/fhir+json`, the resource version as its owner may
 *   read it (hidden fields removed), and for a delete `{}`; without a payload, empty (a ping);
 * - `Content-Type: application/fhir+json` when there is a body;
 * - `X-Event-Id`: the same for every attempt of one (Subscription, resource version): receivers
 *   de-duplicate on it (delivery is at least once);
 * - `X-Medplum-Subscription: {subscription id}`, `X-Medplum-Interaction: create | update | delete`;
 * - a delete: `X-Medplum-Deleted-Resource: {type}/{id}`;
 * - with the Subscription's secret: `X-Signature`: hex HMAC-SHA256 of the exact body bytes, keyed with the secret;
 * - every `channel.header` entry (`Name: value`).
 */

export interface DeliverySettings {
  payload: PayloadKind;
  headers: [string, string][];
  secret?: string;
}

export function deliverySettings(subscription: Subscription): DeliverySettings {
  const secret = subscriptionSecret(subscription);
  return {
    payload: payloadKind(subscription.channel?.payload) ?? 'ping',
    headers: parseHeaders(subscription.channel?.header),
    ...(secret ? { secret } : {}),
  };
}

/** The hex HMAC-SHA256 of the body, as X-Signature carries it. */
export function signBody(secret: string, body: Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** The body and headers of a notification; `resource` is the version as the owner may read it. */
export function notificationRequest(settings: DeliverySettings, notification: NotificationDoc, resource: Resource): { headers: Record<string, string>; body: Buffer } {
  let text = '';
  if (settings.payload === 'resource') {
    text = notification.interaction === 'delete' ? '{}' : JSON.stringify(resource);
  }
  const body = Buffer.from(text, 'utf8');
  const headers: Record<string, string> = { 'user-agent': 'fhir-invite-server-subscriptions' };
  for (const [name, value] of settings.headers) {
    headers[name] = value;
  }
  if (body.length > 0) {
    headers['content-type'] = 'application/fhir+json';
  }
  headers['x-event-id'] = notification._id;
  headers['x-medplum-subscription'] = notification.subscription;
  headers['x-medplum-interaction'] = notification.interaction;
  if (notification.interaction === 'delete') {
    headers['x-medplum-deleted-resource'] = `${notification.resourceType}/${notification.resourceId}`;
  }
  if (settings.secret) {
    headers['x-signature'] = signBody(settings.secret, body);
  }
  return { headers, body };
}
