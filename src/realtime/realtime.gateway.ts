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
import { Ack, refuse } from './realtime.errors.js';
import { SocketAccess } from './socket-access.service.js';
import { SubscriptionsService } from './subscriptions.service.js';
import { CLIENT_EVENTS, NAMESPACE } from '../../client/src/protocol.js';

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
    this.tail.listen('websocket', (notifications) => this.subscriptions.push(notifications), () => this.subscriptions.subscribed);
  }

  /** The API key is checked at the handshake (Socket.IO middleware), before any subscription. */
  afterInit(namespace: Namespace): void {
    this.access.attach(namespace);
  }

  handleConnection(socket: Socket): void {
    this.subscriptions.register(socket);
    socket.use(answerUnknownEvents);
  }

  handleDisconnect(socket: Socket): void {
    this.subscriptions.unregister(socket);
  }

  @SubscribeMessage(CLIENT_EVENTS.subscribe)
  async subscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown): Promise<Ack> {
    return (await this.access.limitMessage(socket)) ?? this.subscriptions.subscribe(socket, body, this.access.tablesOf(socket));
  }

  @SubscribeMessage(CLIENT_EVENTS.unsubscribe)
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

const KNOWN_EVENTS = new Set<string>(Object.values(CLIENT_EVENTS));

/**
 * A message the protocol does not have (`subscrib`, say) would otherwise go unanswered, and a client
 * awaiting its ack would wait until its own timeout: one sent with an ack is answered at once.
 */
function answerUnknownEvents([event, ...args]: unknown[], next: (error?: Error) => void): void {
  if (typeof event === 'string' && KNOWN_EVENTS.has(event)) return next();
  const ack = args.at(-1);
  if (typeof ack === 'function') {
    ack(refuse('INVALID_REQUEST', `unknown event ${JSON.stringify(event)}: send ${[...KNOWN_EVENTS].join(' or ')}`));
  }
}
