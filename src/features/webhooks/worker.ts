import type { FastifyBaseLogger } from 'fastify';
import type { Agent } from 'undici';
import type { WebhookConfig } from '../../config.js';
import { groupCommit, passRunner } from '../../core/passes.js';
import { DELIVERIES_CHANNEL } from '../../db/channels.js';
import type { Database } from '../../db/database.js';
import { countWebhookAttempt } from '../../metrics.js';
import type { AddressGuard } from './address-guard.js';
import { type Claimed, type ClaimRequest, claimer } from './claim.js';
import {
  CLAIM_GRACE_MS,
  claimLapsing,
  claimSize,
  fullEndpoints,
  heldByEndpoint,
  nextToSend,
  nextWakeMs,
  roomAgain,
  wantsClaim,
} from './policy.js';
import { type Attempted, record } from './record.js';
import { deliveryAgent, send } from './send.js';
import { handBackDeliveries, msUntilNextDue } from './sql.js';

type WorkerOptions = {
  database: Database;
  config: WebhookConfig;
  guard: AddressGuard;
  pollMs: number;
  log: FastifyBaseLogger;
};

/** A claimed delivery waiting for a slot, and when it was claimed. */
type Queued = Claimed & { claimedAt: number };

/**
 * Sends due webhook deliveries in three phases: claim (claim.ts: in the database, SKIP LOCKED, so
 * processes never send one twice at once), send (send.ts: sign and POST) and record (record.ts: log
 * the attempt and schedule what is next, as policy.ts decides). Woken by NOTIFY when deliveries are
 * created or retried; a timer covers scheduled retries.
 *
 * The database work is batched so it does not pace the sending: one statement claims a few rounds
 * of deliveries with everything the POSTs need, a slot is free again as soon as its POST ends, and
 * attempts that end while a record is being written are written together in the next one (group
 * commit).
 *
 * Fairness: an endpoint has at most `endpointConcurrency` attempts in flight in a process, the
 * claim takes turns across tenants and their endpoints (and skips endpoints this process already
 * holds a round of), and a slot goes to the first queued delivery whose endpoint has room, so a
 * slow or failing endpoint holds a few slots, never all. Only a POST counts as an attempt: what
 * is claimed and not sent goes back unchanged.
 */
export async function startDeliveryWorker(options: WorkerOptions) {
  const worker = new DeliveryWorker(options);
  await options.database.listen(DELIVERIES_CHANNEL, worker.wake);
  worker.start();
  return { wake: worker.wake, stop: () => worker.stop() };
}

/** One process's delivery worker: its state, and the phases moving deliveries through it. */
class DeliveryWorker {
  private readonly database: Database;
  private readonly config: WebhookConfig;
  private readonly pollMs: number;
  private readonly log: FastifyBaseLogger;
  private readonly agent: Agent;
  private readonly claim: (request: ClaimRequest) => Promise<Claimed[]>;
  /** Deliveries per claim: always the same, so the claim's statement is too (see sql.ts). */
  private readonly claimSize: number;
  /** Attempts an endpoint may have in flight in this process. */
  private readonly perEndpoint: number;

  /** Claimed and not yet sent, in the claims' fair order. */
  private readonly queue: Queued[] = [];
  /** Attempts whose POST is in flight: at most `concurrency`. */
  private readonly sending = new Set<Promise<void>>();
  /** Attempts in flight by endpoint id: at most `perEndpoint` each. */
  private readonly inFlight = new Map<string, number>();
  /** Attempts sent and waiting to be recorded: the slot is free, the database catches up. */
  private readonly recording = new Set<Promise<void>>();
  /** Claimed deliveries being handed back unsent. */
  private readonly handingBack = new Set<Promise<void>>();
  /**
   * Whether a claim may find something: not after one that took less than it could, until a
   * wake-up from outside (NOTIFY, timer, poll), or an endpoint the claim skipped has room again.
   */
  private claimable = true;
  private stopping = false;
  /** Wakes the worker when the next scheduled delivery is due. */
  private nextDue: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;

  private readonly passes = passRunner(
    () => this.claimAndQueue(),
    (err) => this.log.warn({ err }, 'webhook worker pass failed; retrying at the next poll'),
  );
  private readonly records = groupCommit<Attempted>((batch) => record(this.database, this.config, this.log, batch));

  constructor({ database, config, guard, pollMs, log }: WorkerOptions) {
    this.database = database;
    this.config = config;
    this.pollMs = pollMs;
    this.log = log;
    this.agent = deliveryAgent(guard, config.timeoutMs);
    this.claim = claimer(database, guard, config.timeoutMs);
    this.claimSize = claimSize(config.concurrency);
    this.perEndpoint = config.endpointConcurrency;
  }

  /** Something may be due: claim when there is room. */
  readonly wake = (): void => {
    this.claimable = true;
    this.passes.wake();
  };

  start(): void {
    this.poll = setInterval(this.wake, this.pollMs);
    this.poll.unref();
    this.wake();
  }

  private wantsClaim(): boolean {
    return this.claimable && wantsClaim(this.queue.length, this.recording.size, this.config.concurrency);
  }

  /** Phase 1, one pass: claims due deliveries into the queue and starts what slots allow. */
  private async claimAndQueue(): Promise<void> {
    this.handBackLapsing();
    if (!this.wantsClaim()) return;
    const held = heldByEndpoint(this.queue, this.inFlight);
    const claimed = await this.claim({ held, perEndpoint: this.perEndpoint, claimSize: this.claimSize });
    const claimedAt = Date.now();
    for (const delivery of claimed) this.queue.push({ ...delivery, claimedAt });
    this.sendQueued();
    // Whatever of this claim is still queued then goes back, even if nothing else happens meanwhile.
    if (this.queue.length) setTimeout(() => this.sendQueued(), CLAIM_GRACE_MS + 10).unref();
    if (claimed.length === this.claimSize) return this.passes.wake(); // there may be more due
    this.claimable = false;
    await this.sleepUntilNextDue(fullEndpoints(heldByEndpoint(this.queue, this.inFlight), this.perEndpoint));
  }

  /** Phase 2: starts queued deliveries while slots are free, each as soon as its endpoint has room. */
  private sendQueued(): void {
    this.handBackLapsing();
    while (!this.stopping && this.sending.size < this.config.concurrency) {
      const index = nextToSend(this.queue, this.inFlight, this.perEndpoint);
      if (index === -1) return;
      const [delivery] = this.queue.splice(index, 1) as [Queued];
      const { endpointId } = delivery;
      this.inFlight.set(endpointId, (this.inFlight.get(endpointId) ?? 0) + 1);
      const task = this.attempt(delivery).finally(() => {
        this.sending.delete(task);
        this.slotFreed(endpointId);
      });
      this.sending.add(task);
    }
  }

  /** Sends one delivery; phase 3 records it afterwards, together with others (group commit). */
  private async attempt(delivery: Claimed): Promise<void> {
    const attemptedAt = new Date();
    const outcome = await send(this.agent, delivery, this.config.timeoutMs);
    countWebhookAttempt(outcome.statusCode);
    const recorded = this.records
      .add({ delivery, attemptedAt, outcome })
      .catch((err) => this.log.error({ err, deliveryId: delivery.id }, 'webhook attempt could not be recorded'))
      .finally(() => {
        this.recording.delete(recorded);
        if (this.wantsClaim()) this.wake();
      });
    this.recording.add(recorded);
  }

  /** An attempt's POST ended: its slot and its endpoint's room go to what is queued next. */
  private slotFreed(endpointId: string): void {
    const left = this.inFlight.get(endpointId)! - 1;
    if (left) this.inFlight.set(endpointId, left);
    else this.inFlight.delete(endpointId);
    const queued = this.queue.filter((delivery) => delivery.endpointId === endpointId).length;
    if (roomAgain(left + queued, this.perEndpoint)) this.claimable = true;
    this.sendQueued();
    if (this.wantsClaim()) this.passes.wake();
  }

  /**
   * Queued deliveries that could no longer start within their claim go back unsent, due again at
   * once and with no attempt spent, for this process or another.
   */
  private handBackLapsing(): void {
    const now = Date.now();
    const lapsing = this.queue.filter((delivery) => claimLapsing(delivery.claimedAt, now));
    if (!lapsing.length) return;
    const kept = this.queue.filter((delivery) => !lapsing.includes(delivery));
    this.queue.splice(0, this.queue.length, ...kept);
    const handedBack = this.handBack(lapsing)
      .catch((err) =>
        this.log.warn(
          { err },
          'claimed webhook deliveries could not be handed back; they are due again when their claim lapses',
        ),
      )
      .finally(() => this.handingBack.delete(handedBack));
    this.handingBack.add(handedBack);
  }

  private async handBack(deliveries: readonly Claimed[]): Promise<void> {
    await this.database.prisma.$executeRaw(handBackDeliveries(deliveries.map((delivery) => delivery.id)));
  }

  /**
   * Sleeps until the earliest scheduled retry (or the poll interval, whichever is sooner). Endpoints
   * the claim skips are left out: a slot of theirs freeing up wakes the worker.
   */
  private async sleepUntilNextDue(skipped: string[]): Promise<void> {
    const [next] = await this.database.prisma.$queryRaw<{ ms: unknown }[]>(msUntilNextDue(skipped));
    const ms = next?.ms === null || next?.ms === undefined ? null : Number(next.ms);
    clearTimeout(this.nextDue);
    this.nextDue = setTimeout(this.wake, nextWakeMs(ms, this.pollMs));
    this.nextDue.unref();
  }

  /** Stops claiming and waits for the attempts in flight (each ends within the timeout). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.passes.stop();
    clearInterval(this.poll);
    clearTimeout(this.nextDue);
    await Promise.all(this.sending);
    await Promise.all(this.recording);
    await this.agent.close();
    // What was claimed and not sent is due again at once, for this or another process.
    const unsent = this.queue.splice(0);
    if (unsent.length) await this.handBack(unsent);
    await Promise.all(this.handingBack);
  }
}
