import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { getOperationAST, GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import {
  CloseCode,
  GRAPHQL_TRANSPORT_WS_PROTOCOL,
  handleProtocols,
  MessageType,
  parseMessage,
  type Message,
  type SubscribeMessage,
} from 'graphql-ws';
import { isAsyncIterable, type YogaServerInstance } from 'graphql-yoga';
import { WebSocket, WebSocketServer } from 'ws';
import { presentedApiKey } from '../auth/authenticate.js';
import { DomainError } from '../core/errors.js';
import type { Services } from '../services.js';
import { refusedMessage } from '../http/input.js';
import { httpProblem, problemFromDomainError, rawProblemResponse } from '../http/problems.js';
import { RateLimitedError, type RateLimiter } from '../http/rate-limit.js';
import type { GraphQLContext } from './builder.js';
import { refusalError, type costControl } from './limits.js';
import type { Group, Member, SubscriptionGroups } from './subscription-groups.js';
import { parseAndValidate, type ServerContext, type SocketSession } from './yoga.js';

/** Closes a connection over WS_MAX_CONNECTIONS_PER_APP; graphql-ws clients do not retry it by themselves. */
export const TOO_MANY_CONNECTIONS = 4429;
/** graphql-ws's timings: connection_init must come within this of the handshake… */
const CONNECTION_INIT_WAIT_MS = 3_000;
/** …and a socket is pinged this often, and terminated when it has not answered the last ping. */
const KEEP_ALIVE_MS = 12_000;

export type WebSocketGuards = {
  limiter: RateLimiter;
  cost: ReturnType<typeof costControl>;
  maxConnectionsPerApp: number;
};

/**
 * graphql-ws (the graphql-transport-ws protocol) on the HTTP server's /graphql path (same port).
 * Operations run through Yoga's envelop pipeline, so they share the HTTP plugins and context. The
 * API key comes in connectionParams (`authorization: "Bearer …"` or `apiKey`); without a working
 * one the socket closes with 4403, also later, when its key is revoked or rotated. A failed key
 * counts against the address's failed-authentication budget, and an address over it is refused the
 * handshake (429). An application has at most `maxConnectionsPerApp` sockets open on this process;
 * the next closes with 4429. Each operation is admitted and charged when subscribed (limits.ts).
 *
 * The protocol is served here rather than by graphql-ws's server, with the same messages, close
 * codes and timings: an idle subscriber is then its socket, one small Connection and one Operation
 * in its group (subscription-groups.ts), where graphql-ws kept per subscription a suspended async
 * function with its message, context and callbacks, and per socket the upgrade request and two
 * timers (13 KiB per idle subscriber against 3 for a bare socket: see bench/README.md).
 */
export function graphqlWebSocket(
  server: Server,
  yoga: YogaServerInstance<ServerContext, GraphQLContext>,
  services: Services,
  groups: SubscriptionGroups,
  { limiter, cost, maxConnectionsPerApp }: WebSocketGuards,
) {
  // Sockets are tracked in `connections`: ws's own tracking would add a closure per socket.
  const wss = new WebSocketServer({ noServer: true, handleProtocols, clientTracking: false });
  const connections = new Map<WebSocket, Connection>();
  const openPerApp = new Map<string, number>();

  server.on('upgrade', (request, socket, head) => {
    if (new URL(request.url ?? '/', 'http://localhost').pathname !== '/graphql') {
      socket.end(rawProblemResponse(httpProblem('not_found', 'Websockets are served on /graphql only.', randomUUID())));
      return;
    }
    try {
      limiter.authFailures.refuseIfUsedUp(request.socket.remoteAddress ?? '');
    } catch (error) {
      if (!(error instanceof RateLimitedError)) throw error;
      socket.end(
        rawProblemResponse(problemFromDomainError(error, randomUUID()), { 'Retry-After': error.retryAfterSeconds }),
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => opened(ws, request.socket.remoteAddress ?? ''));
  });

  /** One timer pings every socket; one that has not answered the previous ping is gone. */
  const keepAlive = setInterval(() => {
    for (const connection of connections.values()) {
      if (connection.awaitingPong) connection.socket.terminate();
      else if (connection.socket.readyState === WebSocket.OPEN) {
        connection.awaitingPong = true;
        connection.socket.ping();
      }
    }
  }, KEEP_ALIVE_MS);
  keepAlive.unref();

  // Event listeners shared by every socket (`this` is the socket): none is a closure of its own.
  function onMessage(this: WebSocket, data: unknown) {
    const connection = connections.get(this);
    if (connection) received(connection, String(data)).catch((error) => internalError(connection, error));
  }
  function onPong(this: WebSocket) {
    const connection = connections.get(this);
    if (connection) connection.awaitingPong = false;
  }
  function onClose(this: WebSocket) {
    const connection = connections.get(this);
    if (connection) closed(connection);
  }
  function onError(this: WebSocket) {
    this.close(CloseCode.InternalServerError, 'Internal server error');
  }

  function opened(socket: WebSocket, address: string) {
    // on, not once: once wraps each listener in a bound function and a state object per socket.
    // First, so that a socket closed at once has its error listener too.
    socket.on('error', onError);
    if (socket.protocol !== GRAPHQL_TRANSPORT_WS_PROTOCOL) {
      socket.close(CloseCode.SubprotocolNotAcceptable, 'Subprotocol not acceptable');
      return;
    }
    const connection = new Connection(socket, address);
    connections.set(socket, connection);
    connection.initWait = setTimeout(() => {
      if (!connection.initReceived)
        socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
    }, CONNECTION_INIT_WAIT_MS);
    socket.on('message', onMessage);
    socket.on('pong', onPong);
    socket.on('close', onClose);
  }

  async function received(connection: Connection, text: string) {
    let message: Message;
    try {
      message = parseMessage(text);
    } catch {
      return connection.socket.close(CloseCode.BadRequest, 'Invalid message received');
    }
    switch (message.type) {
      case MessageType.ConnectionInit:
        return init(connection, message.payload);
      case MessageType.Ping:
        return connection.send(
          message.payload ? { type: MessageType.Pong, payload: message.payload } : { type: MessageType.Pong },
        );
      case MessageType.Pong:
        return;
      case MessageType.Subscribe:
        return subscribe(connection, message, text);
      case MessageType.Complete: {
        const operation = connection.operations.get(message.id);
        connection.operations.delete(message.id);
        operation?.group?.leave(operation);
        return;
      }
      default:
        return connection.socket.close(CloseCode.BadRequest, `Unexpected message of type ${message.type} received`);
    }
  }

  async function init(connection: Connection, params: unknown) {
    const { socket } = connection;
    if (connection.initReceived)
      return socket.close(CloseCode.TooManyInitialisationRequests, 'Too many initialisation requests');
    connection.initReceived = true;
    clearTimeout(connection.initWait);
    connection.initWait = undefined;
    const apiKey = keyOf(params);
    const correlationId = flat(randomUUID());
    try {
      const { tenantId, applicationId, applicationName, features } = await services.authenticate(apiKey, correlationId);
      // Kept for the socket's lifetime: a literal of one shape, and flat strings (see flat).
      const auth = { tenantId, applicationId, applicationName, features, correlationId };
      connection.session = { auth, apiKey: flat(apiKey!), correlationId };
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      await limiter.authFailures.record(connection.address);
      return socket.close(CloseCode.Forbidden, 'Forbidden');
    }
    const { applicationId } = connection.session.auth;
    const open = openPerApp.get(applicationId) ?? 0;
    if (open >= maxConnectionsPerApp)
      return socket.close(TOO_MANY_CONNECTIONS, 'Too many connections for this application');
    if (socket.readyState !== WebSocket.OPEN) return;
    openPerApp.set(applicationId, open + 1);
    connection.counted = true;
    connection.acknowledged = true;
    connection.send({ type: MessageType.ConnectionAck });
  }

  function closed(connection: Connection) {
    connections.delete(connection.socket);
    clearTimeout(connection.initWait);
    for (const operation of connection.operations.values()) operation.group?.leave(operation);
    connection.operations.clear();
    if (!connection.counted) return;
    const { applicationId } = connection.session!.auth;
    const left = (openPerApp.get(applicationId) ?? 1) - 1;
    if (left) openPerApp.set(applicationId, left);
    else openPerApp.delete(applicationId);
  }

  // An admin change (a key revoked or rotated, a tenant's features): every socket of the tenant
  // checks its key again and closes with 4403 when it no longer works.
  const stopWatchingAuth = services.onAuthChange((tenantId) => {
    for (const connection of connections.values()) {
      const { session } = connection;
      if (!session || (tenantId !== null && tenantId !== session.auth.tenantId)) continue;
      services.authenticate(session.apiKey, session.correlationId).catch((error) => {
        if (error instanceof DomainError) connection.socket.close(CloseCode.Forbidden, 'Forbidden');
      });
    }
  });

  async function subscribe(connection: Connection, { id, payload }: SubscribeMessage, text: string) {
    if (!connection.acknowledged) return connection.socket.close(CloseCode.Unauthorized, 'Unauthorized');
    if (connection.operations.has(id))
      return connection.socket.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`);
    const operation = new Operation(connection, id);
    connection.operations.set(id, operation);
    const session = connection.session!;
    // parseMessage read the text with JSON.parse, which rounds numbers: the raw text goes through
    // the request-body rules too, and an operation they refuse gets their error.
    const refused = refusedMessage(text);
    if (refused?.id === id) {
      const { code, status, errors } = refused.error;
      const extensions = { code, status, correlationId: session.correlationId, ...(errors ? { errors } : {}) };
      return operation.end([new GraphQLError(refused.error.message, { extensions })]);
    }
    const enveloped = yoga.getEnveloped({ session });
    const parsed = parseAndValidate(enveloped, payload.query);
    if (!('document' in parsed)) return operation.end(parsed.errors);
    const args: ExecutionArgs = {
      schema: enveloped.schema,
      document: parsed.document,
      operationName: payload.operationName,
      variableValues: payload.variables,
      contextValue: await enveloped.contextFactory(),
    };
    const context = args.contextValue as GraphQLContext;
    try {
      context.cost = await cost.admit(args);
    } catch (error) {
      if (error instanceof DomainError)
        return operation.end([refusalError(error, context.correlationId, { http: false })]);
      throw error;
    }
    const kind = getOperationAST(args.document, args.operationName)?.operation;
    if (!kind) return operation.end([new GraphQLError('Unable to identify operation')]);
    let result: ExecutionResult | AsyncIterable<ExecutionResult>;
    if (kind === 'subscription') {
      const joined = await groups.join(
        args,
        session.apiKey,
        operation,
        async () => (await enveloped.subscribe(args)) as AsyncIterable<ExecutionResult> | ExecutionResult,
      );
      if ('leave' in joined) {
        // Completed by the client or closed while it started: it leaves at once.
        if (!operation.current()) joined.leave(operation);
        else operation.group = joined;
        return;
      }
      result = joined;
    } else result = (await enveloped.execute(args)) as ExecutionResult | AsyncIterable<ExecutionResult>;
    if (isAsyncIterable(result)) {
      for await (const next of result) {
        if (!operation.current()) break;
        operation.next(next);
      }
    } else if (operation.current()) operation.next(result);
    operation.end(null);
  }

  /** What graphql-ws does with an exception in its message handling: log it and close with 4500. */
  function internalError(connection: Connection, error: unknown) {
    console.error('Internal error occurred during graphql-ws message handling', error);
    connection.socket.close(CloseCode.InternalServerError, 'Internal server error');
  }

  return {
    /** Closes every socket with 1001 Going Away, so clients reconnect (to another process). */
    async close() {
      clearInterval(keepAlive);
      stopWatchingAuth();
      for (const { socket } of connections.values()) socket.close(1001, 'Going away');
      await new Promise<void>((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

/** One graphql-ws socket: where its handshake is, who it is, and its operations by id. */
class Connection {
  initReceived = false;
  acknowledged = false;
  /** Counted in its application's open connections. */
  counted = false;
  /** Pinged, and the pong has not come yet. */
  awaitingPong = false;
  initWait: NodeJS.Timeout | undefined;
  session: SocketSession | undefined;
  readonly operations = new Map<string, Operation>();

  constructor(
    readonly socket: WebSocket,
    readonly address: string,
  ) {}

  send(message: object): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}

/** One operation of a socket, by its id; a subscription's is also its member of a group. */
class Operation implements Member {
  readonly socket: WebSocket;
  readonly prefix: string;
  group: Group | undefined;

  constructor(
    private readonly connection: Connection,
    private readonly id: string,
  ) {
    this.socket = connection.socket;
    this.prefix = flat(`{"id":${JSON.stringify(id)},"type":"${MessageType.Next}","payload":`);
  }

  /** Still the socket's operation of its id: not completed by the client nor ended. */
  current(): boolean {
    return this.connection.operations.get(this.id) === this;
  }

  next(result: ExecutionResult): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(`${this.prefix}${JSON.stringify(result)}}`);
  }

  /**
   * It ended: `complete` when its stream or result is through, `error` when it failed or could not
   * start; nothing once it is not current.
   */
  end(errors: readonly GraphQLError[] | null): void {
    if (!this.current()) return;
    this.connection.operations.delete(this.id);
    this.connection.send(
      errors ? { id: this.id, type: MessageType.Error, payload: errors } : { id: this.id, type: MessageType.Complete },
    );
  }
}

/**
 * A copy of `text` in one piece. Strings built by concatenation (a template, randomUUID) are trees
 * of parts, and slices keep their whole parent: for a string kept as long as a socket, its parts
 * cost several times its characters.
 */
function flat(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** connectionParams carry what HTTP sends as headers. */
function keyOf(params: unknown): string | undefined {
  const record = typeof params === 'object' && params !== null ? (params as Record<string, unknown>) : undefined;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return presentedApiKey({
    authorization: text(record?.authorization ?? record?.Authorization),
    'x-api-key': text(record?.apiKey),
  });
}
