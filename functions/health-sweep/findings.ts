import type { Notice } from '../../shared/domain/notice';

export type Severity = Notice['severity'];

interface FindingBase {
  readonly severity: Severity;
  /** What it is about: a node's hostname, a service's name, `managers`, an SSM parameter. */
  readonly subject: string;
  /** Since when (ISO), from Swarm's own timestamps; null when nothing says. */
  readonly since: string | null;
  /** For a person: what is wrong and what was (or would be) done. */
  readonly detail: string;
}

export type Finding =
  | (FindingBase & {
      kind: 'node-down';
      node: string;
      action:
        | 'watching'
        | 'dispatched'
        | 'not-dispatched'
        | 'dispatch-failed'
        | 'not-due'
        | 'leaving'
        /** A person opted it out (shared/domain/opt-out): reported, never dispatched. */
        | 'excluded'
        | 'maintenance'
        | 'dry-run'
        | 'paused';
    })
  | (FindingBase & {
      kind: 'quorum';
      state: 'lost' | 'at-risk' | 'no-leader';
      reachable: number | null;
      managers: number | null;
      action: 'watching' | 'notified' | 'notified-earlier' | 'dry-run';
    })
  | (FindingBase & {
      kind: 'under-replicated';
      service: string;
      running: number;
      desired: number;
      action: 'watching' | 'notified' | 'notified-earlier' | 'dry-run';
    })
  | (FindingBase & {
      kind: 'scale-in';
      node: string | null;
      action: 'completed' | 'draining' | 'in-progress' | 'handed-back' | 'failed' | 'dry-run' | 'paused';
    })
  | (FindingBase & {
      kind: 'rebalance';
      service: string;
      action: 'force-updated' | 'conflict' | 'failed' | 'dry-run' | 'paused';
    })
  | (FindingBase & {
      kind: 'replacement-unfinished';
      instance: string;
      node: string;
      action:
        | 'watching'
        | 'dispatched'
        | 'not-dispatched'
        | 'dispatch-failed'
        | 'not-due'
        | 'dry-run'
        | 'paused';
    })
  | (FindingBase & {
      kind: 'replacement-unfinished';
      /** EC2 could not list the tagged instances: none is named, and the next sweep reads again. */
      instance: null;
      node: null;
      action: 'read-failed';
    })
  | (FindingBase & {
      kind: 'join-tokens';
      action:
        | 'dispatched'
        | 'not-dispatched'
        | 'dispatch-failed'
        | 'not-checked'
        | 'read-failed'
        | 'dry-run'
        | 'paused';
    })
  | (FindingBase & {
      /** The cluster-wide pause is in force (`paused`), or could not be read (`read-failed`: held all the same). */
      kind: 'paused';
      by: string | null;
      /** The person's reason for pausing. */
      why: string | null;
      action: 'paused' | 'read-failed';
    });

export type FindingKind = Finding['kind'];

/** A finding, and the message a person is sent about it when this sweep is the one to tell. */
export interface Reported {
  readonly finding: Finding;
  readonly notice?: Notice;
}

/** A classifier's answer for one subject: the finding as it stands, or an effect to apply first. */
export type Decision<Plan> = { readonly finding: Finding } | { readonly apply: Plan };
