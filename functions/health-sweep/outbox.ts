import type { Notice } from '../../shared/domain/notice';
import type { Context } from './context';
import type { Finding, Reported } from './findings';

/**
 * Queues a message: every message of a sweep goes out at once, in parallel, so that many
 * findings and a slow chat service still end within the function's time (see `sent`).
 */
export async function tell(ctx: Context, notice: Notice): Promise<void> {
  ctx.outbox.push(
    ctx.deps.notifier.notify(notice).then(
      () => undefined,
      // The notifier never throws by contract; a finding must not be lost if one does.
      (error: unknown) => ctx.input.log.error('notification failed', { error, notice: notice.title }),
    ),
  );
}

/** Queues the message a classifier decided on, if any, and gives back its finding. */
export async function report(ctx: Context, reported: Reported): Promise<Finding> {
  if (reported.notice) await tell(ctx, reported.notice);
  return reported.finding;
}

/** Waits for the messages under way, but never past the deadline: what is late is logged and left. */
export async function sent(ctx: Context): Promise<void> {
  const all = Promise.allSettled(ctx.outbox).then(() => 'sent' as const);
  const deadline = ctx.input.deadline;
  if (deadline === undefined) {
    await all;
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()));
  });
  const outcome = await Promise.race([all, late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    ctx.input.log.warn('messages still being sent at the deadline: left unfinished, not repeated', {
      messages: ctx.outbox.length,
    });
  }
}
