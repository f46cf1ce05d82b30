import type { FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';

/** Probes answer every few seconds; at info they would drown the requests that matter. */
const PROBE_PATHS = new Set(['/health', '/ready', '/metrics']);

/** Whether log lines are written for people: LOG_FORMAT, else whether stdout is a terminal. */
export function prettyLogs(config: Pick<Config, 'logFormat'>): boolean {
  return config.logFormat ? config.logFormat === 'pretty' : process.stdout.isTTY === true;
}

/** pino's options: JSON lines, or pino-pretty's coloured lines on a terminal. */
export function loggerOptions(config: Pick<Config, 'logLevel' | 'logFormat'>): FastifyServerOptions['logger'] {
  if (!prettyLogs(config)) return { level: config.logLevel };
  // The request line's message says it all; its fields stay in JSON for machines.
  const options = { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,reqId,req,res,responseTime' };
  return { level: config.logLevel, transport: { target: 'pino-pretty', options } };
}

/**
 * One log line per answered request (Fastify's own are two: received, completed): method, URL,
 * status and time in the message, and Fastify's req/res/responseTime fields for machines.
 */
export async function requestLogLine(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const fields = { req: request, res: reply, responseTime: reply.elapsedTime };
  const message = `${request.method} ${request.url} ${reply.statusCode} ${reply.elapsedTime.toFixed(1)} ms`;
  if (PROBE_PATHS.has(request.url)) request.log.debug(fields, message);
  else request.log.info(fields, message);
}
