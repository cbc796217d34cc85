import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** How the receiver answers the next request (`too-large`: 413 Content Too Large). */
export type Answer = 'ok' | 'fail' | 'hang' | 'redirect' | 'too-large';

export interface ReceivedRequest {
  id: string;
  headers: Record<string, string>;
  body: string;
  /** What the receiver answered (`hang`: nothing, the sender timed out). */
  answer: Answer;
}

/**
 * A real HTTP endpoint for webhook tests. `answer` decides each response; `refuse()` closes the
 * port (connections refused) until `accept()` opens it again on the same port.
 */
export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  answer: (request: Omit<ReceivedRequest, 'answer'>, index: number) => Answer = () => 'ok';
  /** Each answer is sent this long after the request came (a slow receiver). */
  answerAfterMs = 0;
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Ids answered 2xx, in the order they were answered. */
  get delivered(): string[] {
    return this.requests.filter((request) => request.answer === 'ok').map((request) => request.id);
  }

  async accept(): Promise<void> {
    const server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, String(value)]));
        const request = { id: headers['webhook-id'], headers, body };
        const answer = this.answer(request, this.requests.length);
        if (this.answerAfterMs > 0 && answer !== 'hang') {
          setTimeout(() => this.respond(res, request, answer), this.answerAfterMs);
          return;
        }
        this.respond(res, request, answer);
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Records the request with its answer (when answered, so `delivered` lists what the sender saw confirmed) and answers. */
  private respond(res: http.ServerResponse, request: Omit<ReceivedRequest, 'answer'>, answer: Answer): void {
    this.requests.push({ ...request, answer });
    if (answer === 'ok') res.writeHead(204).end();
    else if (answer === 'fail') res.writeHead(500, { 'content-type': 'text/plain' }).end('receiver failed on purpose');
    else if (answer === 'redirect') res.writeHead(302, { location: 'http://127.0.0.1:1/' }).end();
    else if (answer === 'too-large') res.writeHead(413, { 'content-type': 'text/plain' }).end('body too large');
    // 'hang': no answer; the sender's timeout ends it.
  }

  /** Closes the port and every open connection: the sender's next connect is refused. */
  async refuse(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  close(): Promise<void> {
    return this.refuse();
  }
}
