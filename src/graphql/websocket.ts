import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import { presentedApiKey } from '../auth/authenticate.js';
import { DomainError } from '../core/errors.js';
import type { Services } from '../services.js';
import { refusedMessage } from '../http/input.js';
import { httpProblem, problemFromDomainError, rawProblemResponse } from '../http/problems.js';
import { RateLimitedError, type RateLimiter } from '../http/rate-limit.js';
import type { GraphQLContext } from './builder.js';
import { refusalError, type costControl } from './limits.js';
import type { SubscriptionGroups, Subscriber } from './subscription-groups.js';
import { parseAndValidate, type Enveloped, type ServerContext, type SocketSession } from './yoga.js';

type Extra = { socket: WebSocket; request: IncomingMessage; session?: SocketSession };
/** What an operation runs through and where its results go, found by the args onSubscribe made. */
type Operation = { enveloped: Enveloped; subscriber: Subscriber };

const operations = new WeakMap<ExecutionArgs, Operation>();

/** Closes a connection over WS_MAX_CONNECTIONS_PER_APP; graphql-ws clients do not retry it by themselves. */
export const TOO_MANY_CONNECTIONS = 4429;

export type WebSocketGuards = {
  limiter: RateLimiter;
  cost: ReturnType<typeof costControl>;
  maxConnectionsPerApp: number;
};

/**
 * graphql-ws on the HTTP server's /graphql path (same port). Operations run through Yoga's
 * envelop pipeline, so they share the HTTP plugins and context. The API key comes in
 * connectionParams (`authorization: "Bearer …"` or `apiKey`); without a working one the socket
 * closes with 4403, also later, when its key is revoked or rotated. A failed key counts against
 * the address's failed-authentication budget, and an address over it is refused the handshake
 * (429). An application has at most `maxConnectionsPerApp` sockets open on this process; the next
 * closes with 4429. Each operation is admitted and charged when subscribed (limits.ts).
 */
export function graphqlWebSocket(
  server: Server,
  yoga: YogaServerInstance<ServerContext, GraphQLContext>,
  services: Services,
  groups: SubscriptionGroups,
  { limiter, cost, maxConnectionsPerApp }: WebSocketGuards,
) {
  const wss = new WebSocketServer({ noServer: true });
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
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });

  // graphql-ws reads each message with JSON.parse, which rounds numbers: the raw text goes through
  // the request-body rules first, and an operation they refuse is answered in onSubscribe.
  const refusals = new WeakMap<WebSocket, Map<string, DomainError>>();
  wss.on('connection', (socket: WebSocket) =>
    socket.prependListener('message', (data) => {
      const refused = refusedMessage(String(data));
      if (!refused) return;
      if (!refusals.has(socket)) refusals.set(socket, new Map());
      refusals.get(socket)!.set(refused.id, refused.error);
    }),
  );

  const { dispose } = useServer<Record<string, unknown> | undefined, Extra>(
    {
      onConnect: async (ctx) => {
        const apiKey = keyOf(ctx.connectionParams);
        const correlationId = randomUUID();
        const { socket, request } = ctx.extra;
        try {
          const auth = await services.authenticate(apiKey, correlationId);
          ctx.extra.session = { auth, apiKey: apiKey!, correlationId };
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          await limiter.authFailures.record(request.socket.remoteAddress ?? '');
          return false; // graphql-ws closes with 4403 Forbidden
        }
        const { applicationId } = ctx.extra.session.auth;
        const open = openPerApp.get(applicationId) ?? 0;
        if (open >= maxConnectionsPerApp) {
          socket.close(TOO_MANY_CONNECTIONS, 'Too many connections for this application');
          return false; // the close above is the one the client gets
        }
        openPerApp.set(applicationId, open + 1);
        socket.once('close', () => {
          const left = (openPerApp.get(applicationId) ?? 1) - 1;
          if (left) openPerApp.set(applicationId, left);
          else openPerApp.delete(applicationId);
        });
        const stopWatching = services.onAuthChange((tenantId) => {
          if (tenantId !== null && tenantId !== ctx.extra.session?.auth.tenantId) return;
          services.authenticate(apiKey, correlationId).catch((error) => {
            if (error instanceof DomainError) socket.close(CloseCode.Forbidden, 'Forbidden');
          });
        });
        socket.once('close', stopWatching);
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const refused = refusals.get(ctx.extra.socket)?.get(id);
        if (refused) {
          refusals.get(ctx.extra.socket)!.delete(id);
          const { code, status, errors } = refused;
          return [
            new GraphQLError(refused.message, {
              extensions: {
                code,
                status,
                correlationId: ctx.extra.session!.correlationId,
                ...(errors ? { errors } : {}),
              },
            }),
          ];
        }
        const enveloped: Enveloped = yoga.getEnveloped({ session: ctx.extra.session! });
        const parsed = parseAndValidate(enveloped, payload.query);
        if (!('document' in parsed)) return parsed.errors;
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
          if (error instanceof DomainError) return [refusalError(error, context.correlationId, { http: false })];
          throw error;
        }
        operations.set(args, {
          enveloped,
          subscriber: { socket: ctx.extra.socket, id, apiKey: ctx.extra.session!.apiKey },
        });
        return args;
      },
      execute: (args) => operations.get(args)!.enveloped.execute(args),
      subscribe: (args) => {
        const { enveloped, subscriber } = operations.get(args)!;
        return groups.subscribe(
          args,
          subscriber,
          async () => (await enveloped.subscribe(args)) as AsyncIterable<ExecutionResult> | ExecutionResult,
        );
      },
    },
    wss,
  );

  return {
    /** Closes every socket with 1001 Going Away, so clients reconnect (to another process). */
    close: dispose,
  };
}

/** connectionParams carry what HTTP sends as headers. */
function keyOf(params: Record<string, unknown> | undefined): string | undefined {
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return presentedApiKey({
    authorization: text(params?.authorization ?? params?.Authorization),
    'x-api-key': text(params?.apiKey),
  });
}
