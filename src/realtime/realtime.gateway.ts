import { BeforeApplicationShutdown } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import { NotificationsAppendedEvent } from '../events/event-catalog.js';
import { Ack } from './realtime.errors.js';
import { SocketAccess } from './socket-access.service.js';
import { SubscriptionsService } from './subscriptions.service.js';
import { NAMESPACE } from '../../client/src/protocol.js';

/** Socket.IO namespace /events: translates messages and delegates; see docs/DESIGN.md "WebSocket". */
@WebSocketGateway({
  namespace: NAMESPACE,
  // A hard cap per packet; subscribe messages over LIMITS.messageBytes get an error ack instead.
  // The heartbeat and CORS come from config (RealtimeIoAdapter).
  maxHttpBufferSize: 1_000_000,
})
export class RealtimeGateway
  implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, BeforeApplicationShutdown
{
  constructor(
    private readonly access: SocketAccess,
    private readonly subscriptions: SubscriptionsService,
  ) {}

  /** The API key is checked at the handshake (Socket.IO middleware), before any subscription. */
  afterInit(namespace: Namespace): void {
    this.access.attach(namespace);
  }

  handleConnection(socket: Socket): void {
    this.subscriptions.register(socket);
  }

  handleDisconnect(socket: Socket): void {
    this.subscriptions.unregister(socket);
  }

  @SubscribeMessage('subscribe')
  async subscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown): Promise<Ack> {
    return (await this.access.limitMessage(socket)) ?? this.subscriptions.subscribe(socket, body, this.access.tablesOf(socket));
  }

  @SubscribeMessage('unsubscribe')
  async unsubscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown): Promise<Ack> {
    return (await this.access.limitMessage(socket)) ?? this.subscriptions.unsubscribe(socket, body);
  }

  @OnEvent(NotificationsAppendedEvent.eventName)
  pushToSubscribers(event: NotificationsAppendedEvent): void {
    this.subscriptions.push(event.notifications);
  }

  beforeApplicationShutdown(): void {
    this.subscriptions.closeAll({
      code: 'SERVER_SHUTTING_DOWN',
      message: 'this instance is shutting down: reconnect (with since) to continue where you left off',
    });
  }
}
