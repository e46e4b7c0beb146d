import type { QuorumLostError } from '../../shared/domain/errors';
import { QUORUM_RECOVERY_PROCEDURE } from '../../shared/domain/quorum';
import type { NodeState } from '../../shared/domain/swarm';
import { assessQuorum, type QuorumView } from './assessments';
import type { Context, SweepMoment } from './context';
import type { Finding, Reported } from './findings';
import { report } from './outbox';
import { crossedWithin } from './window';

/** Without a leader nothing says since when: the sweep says so this often instead of every minute. */
export const NO_LEADER_REMIND_SECONDS = 600;

/** No manager we reach sees a leader (`reason`): told every NO_LEADER_REMIND_SECONDS of the sweep's clock. */
export function classifyNoLeader(reason: string, moment: SweepMoment): Reported {
  const due = crossedWithin(moment.at.getTime() % (NO_LEADER_REMIND_SECONDS * 1_000), 0, moment.intervalMs);
  const detail =
    `No manager we reach sees a leader (${reason}): too few managers are reachable, and no change can be made until a person restores quorum. ` +
    `${QUORUM_RECOVERY_PROCEDURE} ` +
    `Nothing says since when, so the sweep reports this every ${NO_LEADER_REMIND_SECONDS / 60} minutes while it lasts.`;
  const finding: Finding = {
    kind: 'quorum',
    state: 'no-leader',
    severity: 'critical',
    subject: 'managers',
    since: null,
    reachable: null,
    managers: null,
    detail,
    action: !due ? 'notified-earlier' : moment.dryRun ? 'dry-run' : 'notified',
  };
  if (!due || moment.dryRun) return { finding };
  return {
    finding,
    notice: { severity: 'critical', title: 'Swarm has no leader: quorum lost', text: detail },
  };
}

/** Quorum lost or at risk, told once: by the sweep after the unreachable managers are marked down. */
export function classifyQuorum(nodes: readonly NodeState[], moment: SweepMoment): Reported | undefined {
  const view = assessQuorum(nodes);
  if (view.state === 'ok') return undefined;
  const since = view.since ?? moment.at;
  const due = view.settled && crossedWithin(moment.at.getTime() - since.getTime(), 0, moment.intervalMs);
  const ratio = `${view.reachable} of ${view.managers} managers reachable`;
  const detail = quorumDetail(view, ratio);
  const finding: Finding = {
    kind: 'quorum',
    state: view.state,
    severity: 'critical',
    subject: 'managers',
    since: since.toISOString(),
    reachable: view.reachable,
    managers: view.managers,
    detail: view.settled
      ? detail
      : `${detail} (Reported once Swarm marks the unreachable manager down: that time is the report's "since".)`,
    action: !view.settled ? 'watching' : !due ? 'notified-earlier' : moment.dryRun ? 'dry-run' : 'notified',
  };
  if (!due || moment.dryRun) return { finding };
  return {
    finding,
    notice: {
      severity: 'critical',
      title: view.state === 'lost' ? `Swarm quorum lost: ${ratio}` : `Swarm quorum at risk: ${ratio}`,
      text: detail,
    },
  };
}

function quorumDetail(view: QuorumView, ratio: string): string {
  const gone = view.unreachable.map((n) => `${n.hostname} (${n.state} since ${n.updatedAt.toISOString()})`);
  return view.state === 'lost'
    ? `Quorum lost: ${ratio}${gone.length > 0 ? `; unreachable: ${gone.join(', ')}` : ''}. No change can be made until a person restores a majority: bring the managers back. ${QUORUM_RECOVERY_PROCEDURE}`
    : view.unreachable.length > 0
      ? `Quorum at risk: ${ratio}; unreachable: ${gone.join(', ')}. One more manager loss and the swarm stops accepting changes. Bring it back or let replace-node replace it once it is down past the grace period.`
      : view.managers === 1
        ? 'Quorum at risk: a single manager. Losing it loses the swarm; run 3 (or 5) managers.'
        : `Quorum at risk: ${view.managers} managers, an even number, tolerate no more failures than ${view.managers - 1}. Add or remove one manager.`;
}

export async function noLeader(ctx: Context, error: QuorumLostError): Promise<Finding> {
  return report(ctx, classifyNoLeader(error.message, ctx.moment));
}

export async function quorum(ctx: Context, nodes: readonly NodeState[]): Promise<Finding[]> {
  const reported = classifyQuorum(nodes, ctx.moment);
  return reported ? [await report(ctx, reported)] : [];
}
