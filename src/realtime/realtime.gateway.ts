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
import { SubscriptionsService } from './subscriptions.service.js';

/** Socket.IO namespace /events: translates messages and delegates; see docs/DESIGN.md "WebSocket". */
@WebSocketGateway({
  namespace: '/events',
  // A hard cap per packet; subscribe messages over LIMITS.messageBytes get an error ack instead.
  // The heartbeat comes from config (RealtimeIoAdapter).
  maxHttpBufferSize: 1_000_000,
})
export class RealtimeGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  constructor(private readonly subscriptions: SubscriptionsService) {}

  afterInit(namespace: Namespace): void {
    this.subscriptions.attach(namespace);
  }

  handleConnection(socket: Socket): void {
    this.subscriptions.register(socket);
  }

  handleDisconnect(socket: Socket): void {
    this.subscriptions.unregister(socket);
  }

  @SubscribeMessage('subscribe')
  subscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown): Promise<Ack> {
    return this.subscriptions.subscribe(socket, body);
  }

  @SubscribeMessage('unsubscribe')
  unsubscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown): Promise<Ack> {
    return this.subscriptions.unsubscribe(socket, body);
  }

  @OnEvent(NotificationsAppendedEvent.eventName)
  pushToSubscribers(event: NotificationsAppendedEvent): void {
    this.subscriptions.push(event.notifications);
  }
}
