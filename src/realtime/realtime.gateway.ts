import { BeforeApplicationShutdown, OnModuleInit } from '@nestjs/common';
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
import { LiveTail } from '../log/live-tail.js';
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
  implements OnModuleInit, OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, BeforeApplicationShutdown
{
  constructor(
    private readonly access: SocketAccess,
    private readonly subscriptions: SubscriptionsService,
    private readonly tail: LiveTail,
  ) {}

  /** Every new notification, in id order, to the matching subscriptions (a tail listener: see TailListener). */
  onModuleInit(): void {
    this.tail.listen('websocket', (notifications) => this.subscriptions.push(notifications));
  }

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

  beforeApplicationShutdown(): void {
    this.subscriptions.closeAll({
      code: 'SERVER_SHUTTING_DOWN',
      message: 'this instance is shutting down: reconnect (with since) to continue where you left off',
    });
  }
}
